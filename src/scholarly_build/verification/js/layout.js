() => {
  const se = document.scrollingElement, cw = se.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || (r.right <= cw + 1 && r.left >= -1)) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
    }
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
    if (!clipped) out.push(`${name} (right edge ${Math.round(r.right)})`);
  }
  return {scrollWidth: se.scrollWidth, clientWidth: cw, offenders: out.slice(0, 5)};
}
