// The document inventory as a reader meets it in the browser: headings,
// figures (with whether their picture actually loaded and has pixels), tables,
// citations, the reference list with each entry's annotation, and the text.
// Returned as plain JSON to scholarly_build.parity.
() => {
  const text = (el) => (el ? el.textContent : "").replace(/\s+/g, " ").trim();
  const main = document.querySelector("main") || document.body;
  const headings = [...main.querySelectorAll("h1, h2, h3, h4, h5, h6")]
    .filter((h) => !h.closest("header, nav, #title-block-header") && !h.classList.contains("title"))
    .map((h) => text(h));
  const figures = [...main.querySelectorAll("figure")].map((fig) => {
    const imgs = [...fig.querySelectorAll("img")];
    const drawn = imgs.some((img) => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0
      && img.getBoundingClientRect().width > 0);
    return { id: fig.id, caption: text(fig.querySelector("figcaption")), drawn, images: imgs.length };
  });
  const tables = [...main.querySelectorAll("table")].map((t) => ({
    caption: text(t.querySelector("caption")),
    cells: t.querySelectorAll("th, td").length,
  }));
  const citations = [];
  for (const span of main.querySelectorAll("span.citation")) {
    for (const a of span.querySelectorAll('a[href^="#ref-"]')) citations.push(a.getAttribute("href").slice(5));
  }
  const references = [...main.querySelectorAll("#refs .csl-entry")].map((entry) => {
    const note = entry.querySelector(".annotation");
    return { key: entry.id.replace(/^ref-/, ""), annotation: note ? text(note) : null };
  });
  const entryIndex = [...main.querySelectorAll("#entry-index a")].map((a) => text(a));
  // The citation cards' data (hidden) and an open card are not the document's text.
  const shown = main.cloneNode(true);
  shown.querySelectorAll("#citation-cards, #citation-card").forEach((el) => el.remove());
  return { headings, figures, tables, citations, references, entryIndex, text: text(shown) };
}
