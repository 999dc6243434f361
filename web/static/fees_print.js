// The printable statement: its "print" button opens the browser's print dialogue.

document.querySelector("[data-print]")?.addEventListener("click", () => window.print());
