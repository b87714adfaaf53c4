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

// A form with data-confirm asks first (deleting, revoking); a select with data-autosubmit sends
// its form when it changes (the business switcher).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
