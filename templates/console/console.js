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

// The review queue: the reference is checked as it is typed (its last digit is a Damm check
// digit, so one wrong digit or two swapped ones show at once), and the page can be zoomed and
// turned.
(() => {
  const input = document.getElementById("reference");
  const out = document.getElementById("reference-check");
  if (input && out) {
    const thai = document.documentElement.lang === "th";
    const table = [
      [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3], [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
      [1, 7, 5, 0, 9, 8, 3, 4, 2, 6], [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
      [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7], [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
      [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ];
    const check = () => {
      const text = input.value.replace(/[๐-๙]/g, (c) => String(c.charCodeAt(0) - 0x0e50));
      if (/[A-Za-z]/.test(text)) { out.textContent = ""; out.className = "hint"; return; }
      const digits = text.replace(/[\s-]/g, "");
      if (!digits) { out.textContent = ""; return; }
      if (!/^\d+$/.test(digits)) {
        out.textContent = thai ? "พิมพ์ได้เฉพาะตัวเลข" : "Digits only";
        out.className = "check-bad";
      } else if (digits.length < 30) {
        out.textContent = thai ? `พิมพ์แล้ว ${digits.length} จาก 30 หลัก` : `${digits.length} of 30 digits`;
        out.className = "hint";
      } else {
        const ok = digits.length === 30 && [...digits].reduce((i, d) => table[i][Number(d)], 0) === 0;
        out.textContent = ok ? (thai ? "เลขตรวจสอบถูกต้อง" : "The check digit is right")
          : (thai ? "เลขไม่ถูกต้อง กรุณาตรวจทีละหลัก" : "A digit is wrong; check them one by one");
        out.className = ok ? "check-ok" : "check-bad";
      }
    };
    input.addEventListener("input", check);
    check();
  }
  const img = document.getElementById("page-image");
  if (img) {
    let scale = 1;
    let turn = 0;
    const apply = () => {
      img.style.width = `${scale * 100}%`;
      img.style.transform = turn ? `rotate(${turn}deg)` : "";
    };
    document.getElementById("zoom-in").addEventListener("click", () => { scale = Math.min(4, scale * 1.5); apply(); });
    document.getElementById("zoom-out").addEventListener("click", () => { scale = Math.max(1, scale / 1.5); apply(); });
    document.getElementById("turn").addEventListener("click", () => { turn = (turn + 180) % 360; apply(); });
  }
})();

// Address help on the send-a-letter form: five digits in the postcode field offer that
// postcode's subdistricts, districts and province from the official table, and fill them in
// when there is one place and the fields are empty. The server checks the address again.
(() => {
  const postcode = document.getElementById("f-postcode");
  if (!postcode) return;
  const help = document.getElementById("postcode-help");
  const thai = document.documentElement.lang === "th";
  const fill = (id, values) => {
    const list = document.getElementById(id);
    list.replaceChildren(...[...new Set(values)].map((v) => { const o = document.createElement("option"); o.value = v; return o; }));
  };
  let asked = "";
  const ask = () => {
    const code = postcode.value.trim();
    if (!/^\d{5}$/.test(code) || code === asked) return;
    asked = code;
    fetch(`/console/postcodes/${code}`, { headers: { accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { places: [] }))
      .then(({ places }) => {
        fill("subdistricts", places.map((p) => p[0]));
        fill("districts", places.map((p) => p[1]));
        fill("provinces", places.map((p) => p[2]));
        if (places.length === 0) {
          help.textContent = thai ? `ไม่พบรหัสไปรษณีย์ ${code} ในทะเบียน` : `No place uses postcode ${code}.`;
          return;
        }
        const names = [...new Set(places.map((p) => p[0]))];
        help.textContent = thai
          ? `รหัส ${code}: ${names.join(", ")} (${places[0][1]}, ${places[0][2]})`
          : `${code}: ${names.join(", ")} (${places[0][1]}, ${places[0][2]})`;
        if (places.length === 1) {
          const [s, d, p] = places[0];
          for (const [id, v] of [["f-subdistrict", s], ["f-district", d], ["f-province", p]]) {
            const field = document.getElementById(id);
            if (!field.value) field.value = v;
          }
        }
      })
      .catch(() => {});
  };
  postcode.addEventListener("input", ask);
  ask();
})();

// The send-a-letter form shows only the part of the letter's text chosen (typed text, a
// content template's values, or the agency's PDF) and only the chosen template's values.
// Without this script every part shows, and the choice decides which one is read.
(() => {
  const form = document.getElementById("letter-form");
  if (!form) return;
  const template = document.getElementById("f-template");
  const show = () => {
    const chosen = form.querySelector("input[name=content]:checked");
    const content = chosen ? chosen.value : "body";
    form.querySelectorAll(".content-part").forEach((part) => { part.hidden = part.dataset.content !== content; });
    form.querySelectorAll(".template-values").forEach((part) => { part.hidden = part.dataset.template !== template.value; });
  };
  form.querySelectorAll("input[name=content]").forEach((radio) => radio.addEventListener("change", show));
  template.addEventListener("change", show);
  show();
})();
