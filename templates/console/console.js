// The console works without this script; it only adds conveniences.
// A form is sent once: its submit button is disabled while the page loads the answer.
document.addEventListener("submit", (event) => {
  const button = event.target.querySelector("button[type=submit]");
  if (button) {
    setTimeout(() => { button.disabled = true; }, 0);
  }
});
