(href) => {
  const t = document.getElementById(decodeURIComponent(href.slice(1)));
  const r = t ? t.getBoundingClientRect() : {top: -1e9, bottom: -1e9};
  return {hash: decodeURIComponent(location.hash), top: r.top, bottom: r.bottom, height: window.innerHeight};
}
