() => [...document.querySelectorAll('.annotation')].map((a) => {
  const entry = a.closest('[id^="ref-"]');
  const ar = a.getBoundingClientRect();
  const paragraphs = a.querySelectorAll('p').length || a.querySelectorAll('.annotation-break').length + 1;
  const body = document.body;
  const columnLeft = body.getBoundingClientRect().left + parseFloat(getComputedStyle(body).paddingLeft);
  if (!entry) return {entry: '', textBottom: 0, top: ar.top, left: ar.left, right: ar.right,
                      entryLeft: 0, entryRight: 0, entryText: '', paragraphs, columnLeft};
  const range = document.createRange();
  range.setStart(entry, 0);
  range.setEndBefore(a);
  const t = range.getBoundingClientRect(), er = entry.getBoundingClientRect();
  return {entry: entry.id, textBottom: t.bottom, top: ar.top, left: ar.left, right: ar.right,
          entryLeft: er.left, entryRight: er.right, entryText: range.toString().trim().slice(0, 80), paragraphs,
          columnLeft};
})
