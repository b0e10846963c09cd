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

// Uploads: files dropped on the zone join the chosen ones; the form is sent in the
// background so that each file's bar shows how much of it has gone, then the new batch opens.
(() => {
  const form = document.getElementById("upload-form");
  if (!form || !window.FormData) return;
  const input = document.getElementById("files");
  const zone = document.getElementById("drop-zone");
  const list = document.getElementById("file-progress");
  const problem = document.getElementById("upload-problem");
  const thai = document.documentElement.lang === "th";
  const show = () => {
    list.textContent = "";
    for (const f of input.files) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = f.name;
      const bar = document.createElement("progress");
      bar.max = f.size || 1;
      bar.value = 0;
      bar.setAttribute("aria-label", f.name);
      const pct = document.createElement("span");
      pct.textContent = "0%";
      li.append(name, bar, pct);
      list.append(li);
    }
  };
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    input.files = e.dataTransfer.files;
    show();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    const data = new FormData(form);
    const files = [...input.files];
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    const rows = [...list.children];
    xhr.upload.addEventListener("progress", (e) => {
      // The files go in order: each bar fills as the bytes before it have gone.
      let before = 0;
      files.forEach((f, i) => {
        const sent = Math.max(0, Math.min(f.size, e.loaded - before));
        before += f.size;
        if (rows[i]) {
          rows[i].children[1].value = sent;
          rows[i].children[2].textContent = `${Math.round((100 * sent) / (f.size || 1))}%`;
        }
      });
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 201 && body.location) {
        window.location = body.location;
        return;
      }
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = false;
      problem.textContent = (thai ? "อัปโหลดไม่สำเร็จ: " : "The upload was refused: ") + (body.detail || xhr.statusText);
      problem.hidden = false;
    });
    xhr.addEventListener("error", () => {
      problem.textContent = thai ? "การเชื่อมต่อขาด กรุณาอัปโหลดใหม่" : "The connection broke; upload again.";
      problem.hidden = false;
    });
    xhr.send(data);
  });
})();
