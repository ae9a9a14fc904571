// Sorts the matrix by the heading clicked (again: the other way); empty cells stay last.
document.documentElement.classList.add("js");
for (const table of document.querySelectorAll("table.matrix")) {
  const heads = Array.from(table.tHead.rows[0].cells);
  heads.forEach((th, column) => {
    th.addEventListener("click", () => {
      const numeric = th.dataset.sort === "number";
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = a.cells[column].dataset.key;
        const y = b.cells[column].dataset.key;
        if (x === undefined || y === undefined) return (x === undefined) - (y === undefined);
        const order = numeric ? x - y : x.localeCompare(y, undefined, { numeric: true });
        return ascending ? order : -order;
      });
      body.append(...rows);
    });
  });
}
