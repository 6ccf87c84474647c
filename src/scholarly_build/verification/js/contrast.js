(selectors) => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (fg, bg) => [0, 1, 2].map(i => fg[i] * fg[3] + bg[i] * (1 - fg[3])).concat([1]);
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const css = (c) => `rgb(${c.slice(0, 3).map(Math.round).join(',')})`;
  return selectors.map((sel) => {
    let worst = null, count = 0;
    for (const el of document.querySelectorAll(sel)) {
      if (!el.textContent.trim() || el.getClientRects().length === 0) continue;
      const fg0 = parse(getComputedStyle(el).color);
      if (!fg0) continue;
      const bg = background(el), fg = over(fg0, bg);
      const [a, b] = [lum(fg), lum(bg)];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      count++;
      if (!worst || ratio < worst.ratio) {
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
        worst = {ratio, example: `${name} ${css(fg)} on ${css(bg)}`};
      }
    }
    return {selector: sel, elements: count, ratio: worst ? worst.ratio : 21, example: worst ? worst.example : ''};
  });
}
