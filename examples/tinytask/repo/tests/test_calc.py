import unittest

import calc


class TestCalc(unittest.TestCase):
    def test_add(self) -> None:
        self.assertEqual(calc.add(2, 3), 5)

    def test_greet(self) -> None:
        self.assertEqual(calc.greet("x"), "hello x")


if __name__ == "__main__":
    unittest.main()
