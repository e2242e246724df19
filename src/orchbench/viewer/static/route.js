/* Routes, loaded first (not deferred): the page's data request starts while the other scripts load. */
"use strict";

function parseRoute(pathname) {
  const p = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (!p.length) return {page: "experiments"};
  if (p[0] === "e" && p.length === 2) return {page: "grid", exp: p[1]};
  if (p[0] === "e" && p.length === 5 && p[2] === "cell") return {page: "cell", exp: p[1], arm: p[3], task: p[4]};
  if (p[0] === "t" && p.length === 2) return {page: "trial", id: p[1]};
  return {page: "notfound"};
}

// The API path each page reads (one request per page).
function routeData(route) {
  const enc = encodeURIComponent;
  switch (route.page) {
    case "experiments": return "experiments";
    case "grid": return `experiments/${enc(route.exp)}/grid`;
    case "cell": return `experiments/${enc(route.exp)}/cells/${enc(route.arm)}/${enc(route.task)}`;
    case "trial": return `trials/${enc(route.id)}`;
    default: return null;
  }
}

const EARLY = {};
(() => {
  const path = routeData(parseRoute(location.pathname));
  if (path) EARLY[path] = fetch("/api/" + path, {cache: "no-store"});
})();
