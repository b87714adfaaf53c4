// The dashboard's few behaviours, in a file rather than inline handlers, so the pages'
// Content-Security-Policy can refuse every inline script (config/security.py).
document.addEventListener("click", function (event) {
  var copy = event.target.closest("[data-copy]");
  if (copy) {
    var source = document.getElementById(copy.dataset.copy);
    if (source && navigator.clipboard) navigator.clipboard.writeText(source.value);
    copy.textContent = copy.dataset.copied;
  }
  var select = event.target.closest("[data-select-on-click]");
  if (select) select.select();
});
