// Citation cards for paper.html (embedded by templates/pandoc/filters/linked.lua).
// Hovering or focusing a citation link shows a card: the formatted reference
// (copied from the paper's own reference list), the opening of the work's
// annotation (the hidden #citation-cards, plain text made by pandoc) and a link to
// the full annotation. Escape closes it. Below 40rem the card is a bottom sheet and
// the page scrolls so that the citation's line stays above it. No network, no
// innerHTML: note text only ever reaches the page as text.
(function () {
  "use strict";
  var data = document.getElementById("citation-cards");
  if (!data) return;
  var bibliography = data.getAttribute("data-bibliography");
  var openings = {};
  data.querySelectorAll(".card-opening").forEach(function (el) {
    openings[el.getAttribute("data-key")] = el.textContent;
  });
  var card = document.createElement("div");
  card.id = "citation-card";
  card.className = "citation-card";
  card.setAttribute("role", "dialog");
  card.hidden = true;
  var current = null;
  var closing = 0;
  var dismissed = null;  // closed with Escape while focused: stays closed until focus moves on

  function keyOf(link) {
    var href = link.getAttribute("href") || "";
    return href.indexOf("#ref-") === 0 ? decodeURIComponent(href.slice(5)) : null;
  }

  function citationLink(el) {
    var link = el && el.closest ? el.closest(".citation a[href^='#ref-']") : null;
    return link && openings[keyOf(link)] !== undefined ? link : null;
  }

  function reference(key) {
    var entry = document.getElementById("ref-" + key);
    if (!entry) return null;
    var copy = entry.cloneNode(true);
    copy.removeAttribute("id");
    copy.removeAttribute("role");
    copy.className = "card-reference";
    copy.querySelectorAll("[id]").forEach(function (el) { el.removeAttribute("id"); });
    copy.querySelectorAll(".annotation-link").forEach(function (el) { el.remove(); });
    return copy;
  }

  function fill(link, key) {
    card.textContent = "";
    var ref = reference(key);
    if (ref) card.appendChild(ref);
    var opening = document.createElement("p");
    opening.className = "card-annotation";
    opening.textContent = openings[key];
    card.appendChild(opening);
    if (bibliography) {
      var more = document.createElement("a");
      more.className = "card-more";
      more.href = bibliography + link.getAttribute("href");
      more.textContent = "Read the full annotation";
      card.appendChild(more);
    }
    card.setAttribute("aria-label", "Reference: " + link.textContent.trim());
  }

  function place(link) {
    var sheet = window.matchMedia("(max-width: 40rem)").matches;
    card.classList.toggle("sheet", sheet);
    card.style.left = "";
    card.style.top = "";
    var r = link.getBoundingClientRect();
    if (sheet) {
      var top = window.innerHeight - card.offsetHeight;
      if (r.bottom > top - 8) window.scrollBy(0, r.bottom - top + 16);
      else if (r.top < 0) window.scrollBy(0, r.top - 16);
      return;
    }
    var width = card.offsetWidth;
    var height = card.offsetHeight;
    var view = document.documentElement.clientWidth;
    var left = Math.max(8, Math.min(r.left, view - width - 8));
    var top2 = r.bottom + 6;
    if (top2 + height > window.innerHeight && r.top - height - 6 > 0) top2 = r.top - height - 6;
    card.style.left = left + window.scrollX + "px";
    card.style.top = top2 + window.scrollY + "px";
  }

  function open(link) {
    window.clearTimeout(closing);
    if (current === link && !card.hidden) return;
    if (current) current.removeAttribute("aria-describedby");
    current = link;
    fill(link, keyOf(link));
    link.after(card);  // next in the tab order: Tab from the citation reaches the card's link
    card.hidden = false;
    link.setAttribute("aria-describedby", card.id);
    place(link);
  }

  function close() {
    window.clearTimeout(closing);
    card.hidden = true;
    if (current) current.removeAttribute("aria-describedby");
    current = null;
  }

  document.addEventListener("focusin", function (event) {
    var link = citationLink(event.target);
    if (link && link === dismissed) return;
    dismissed = null;
    if (link) open(link);
    else if (!card.contains(event.target)) close();
  });
  document.addEventListener("focusout", function (event) {
    if (event.target === dismissed) dismissed = null;
  });
  document.addEventListener("mouseover", function (event) {
    var link = citationLink(event.target);
    if (link) open(link);
    else if (card.contains(event.target)) window.clearTimeout(closing);
  });
  document.addEventListener("mouseout", function (event) {
    if (!current || card.hidden) return;
    if (citationLink(event.target) === current || card.contains(event.target)) {
      var to = event.relatedTarget;
      if (to && (to === current || card.contains(to))) return;
      if (document.activeElement === current || card.contains(document.activeElement)) return;
      closing = window.setTimeout(close, 300);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || card.hidden) return;
    var back = current;
    var inside = card.contains(document.activeElement);
    close();
    dismissed = back;
    if (inside && back) back.focus({ preventScroll: true });
  });
  window.addEventListener("resize", function () { if (current && !card.hidden) place(current); });
})();
