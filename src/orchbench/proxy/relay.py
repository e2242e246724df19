"""Inside the sandbox: listen on 127.0.0.1:PORT, pass every connection to the proxy's Unix socket,
and run the agent command as a child; exit with the agent's exit code.

The sandbox has its own network namespace with only a loopback device, so this relay is the agent's
one way out, and it leads to the recording proxy alone. Run as a script with the sandbox's Python
(standard library only; orchbench itself need not be importable there):

    python relay.py SOCKET PORT -- AGENT ARGV...
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other direction may still be streaming
    except (ConnectionError, OSError):
        writer.close()


async def _main(socket_path: str, port: int, argv: list[str]) -> int:
    async def serve(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(_pipe(c_reader, u_writer), _pipe(u_reader, c_writer))
        u_writer.close()
        c_writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    proc = await asyncio.create_subprocess_exec(*argv)
    code = await proc.wait()
    server.close()
    return code


def main(args: list[str]) -> int:
    if len(args) < 4 or args[2] != "--":
        print("usage: relay.py SOCKET PORT -- COMMAND...", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_main(args[0], int(args[1]), args[3:]))
    except FileNotFoundError as exc:
        print(f"relay: cannot run {args[3]!r}: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
