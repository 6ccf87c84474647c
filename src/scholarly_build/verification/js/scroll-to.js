(s) => { const e = document.querySelector(s); if (e) e.scrollIntoView(); return !!e; }
