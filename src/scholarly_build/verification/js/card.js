// The citation card of the focused citation link (templates/html/cards.js), as a
// reader sees it: whether it is shown, its text, the opening of the annotation it
// should show, its link, and where it sits relative to the citation.
() => {
  const link = document.activeElement;
  const card = document.getElementById("citation-card");
  const href = (link && link.getAttribute("href")) || "";
  const key = href.startsWith("#ref-") ? decodeURIComponent(href.slice(5)) : "";
  const data = [...document.querySelectorAll("#citation-cards .card-opening")]
    .find((el) => el.getAttribute("data-key") === key);
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const shown = !!card && !card.hidden && card.getBoundingClientRect().height > 0;
  const more = shown ? card.querySelector("a.card-more") : null;
  return {
    key,
    shown,
    text: shown ? card.innerText.replace(/\s+/g, " ").trim() : "",
    opening: data ? data.textContent.replace(/\s+/g, " ").trim() : "",
    more: more ? more.getAttribute("href") : "",
    card: shown ? box(card) : null,
    citation: link ? box(link) : null,
    viewport: [window.innerWidth, window.innerHeight],
    scrollWidth: document.scrollingElement.scrollWidth,
    clientWidth: document.scrollingElement.clientWidth,
  };
}
