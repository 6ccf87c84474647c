() => {
  const hrefs = [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href')).filter(h => h !== '#');
  const missing = [...new Set(hrefs)].filter(h => !document.getElementById(decodeURIComponent(h.slice(1))));
  const textOf = (a) => (a.innerText || a.textContent || '').trim() ||
    (a.getAttribute('aria-label') || '').trim() ||
    [...a.querySelectorAll('img[alt]')].map(i => i.alt.trim()).join(' ').trim() ||
    (a.getAttribute('title') || '').trim();
  const links = [...document.querySelectorAll('a[href]')].map(a => ({href: a.getAttribute('href'), text: textOf(a)}));
  const refs = document.getElementById('refs');
  const entries = refs ? [...refs.querySelectorAll('[id^="ref-"]')] : [];
  return {
    lang: document.documentElement.getAttribute('lang') || '',
    title: document.title,
    headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]
      .map(h => [Number(h.tagName[1]), h.textContent.trim()]),
    internal: hrefs.length,
    missing,
    links,
    images: [...document.images].map(i => ({src: (i.getAttribute('src') || '').slice(0, 60), complete: i.complete,
      naturalWidth: i.naturalWidth, alt: i.getAttribute('alt')})),
    entries: entries.length,
    withoutAnnotation: entries.filter(e => !e.querySelector('.annotation')).map(e => e.id),
  };
}
