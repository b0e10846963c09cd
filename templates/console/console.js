// The console works without this script; it only adds conveniences.

// A form is sent once: its submit button is disabled while the page loads the answer.
document.addEventListener("submit", (event) => {
  const button = event.target.querySelector("button[type=submit]");
  if (button) {
    setTimeout(() => { button.disabled = true; }, 0);
  }
});

// Dispatch by scanning: each line the barcode scanner types is checked as it arrives — the
// UPU S10 check digit, a number scanned twice, more envelopes than the batch has — and a
// mistake stops the operator with a red alarm, a flash and a low tone. The server checks the
// whole list again when it is sent.
(() => {
  const form = document.getElementById("scan-form");
  if (!form) return;
  const area = document.getElementById("numbers");
  const scanned = document.getElementById("scanned");
  const alarm = document.getElementById("scan-alarm");
  const count = Number(form.dataset.count);
  const thai = document.documentElement.lang === "th";
  const weights = [8, 6, 4, 2, 3, 5, 9, 7];
  const valid = (n) => {
    const m = /^[A-Z]{2}(\d{8})(\d)[A-Z]{2}$/.exec(n);
    if (!m) return false;
    const sum = [...m[1]].reduce((s, d, i) => s + Number(d) * weights[i], 0);
    let check = 11 - (sum % 11);
    if (check === 10) check = 0;
    if (check === 11) check = 5;
    return check === Number(m[2]);
  };
  const beep = () => {
    try {
      const ctx = new AudioContext();
      const tone = ctx.createOscillator();
      tone.frequency.value = 220;
      tone.connect(ctx.destination);
      tone.start();
      tone.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no audio: the alarm and the flash remain */ }
  };
  const check = (fresh) => {
    const lines = area.value.split("\n").map((l) => l.trim().toUpperCase()).filter((l) => l);
    scanned.textContent = String(lines.length);
    const problems = [];
    const seen = new Map();
    lines.forEach((line, i) => {
      if (!valid(line)) problems.push(thai ? `ซองที่ ${i + 1}: ${line} ไม่ใช่เลขพัสดุที่ถูกต้อง` : `envelope ${i + 1}: ${line} is not a valid tracking number`);
      else if (seen.has(line)) problems.push(thai ? `ซองที่ ${i + 1}: ${line} ซ้ำกับซองที่ ${seen.get(line)}` : `envelope ${i + 1}: ${line} was already scanned for envelope ${seen.get(line)}`);
      else seen.set(line, i + 1);
    });
    if (lines.length > count) problems.push(thai ? `สแกนเกินจำนวนซอง (${count} ซอง)` : `more scans than the ${count} envelopes`);
    if (problems.length) {
      alarm.textContent = problems[problems.length - 1];
      alarm.hidden = false;
      area.setAttribute("aria-invalid", "true");
      if (fresh) {
        beep();
        document.body.classList.remove("scan-error");
        void document.body.offsetWidth;
        document.body.classList.add("scan-error");
      }
    } else {
      alarm.hidden = true;
      area.removeAttribute("aria-invalid");
    }
  };
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter") setTimeout(() => check(true), 0);
  });
  area.addEventListener("input", () => check(false));
  check(false);
})();
