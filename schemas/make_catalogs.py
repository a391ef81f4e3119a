#!/usr/bin/env python3
"""Regenerates the measurement catalogs in schemas/ from the shared reference files.

Run from the repository root:  python3 schemas/make_catalogs.py ../shared
Plausible ranges are deliberately wide: they catch typos, unit mix-ups (inches, cm) and
negative values, not unusual bodies.
  FreeSewing: [0.5 x smallest adult size, 1.8 x largest adult size] of the sizing tables.
  ANSUR II:   [0.6 x observed minimum, 1.5 x observed maximum] over both files.
"""
import csv, math, sys, io

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"

DESCRIPTIONS = {
    "ankle": "Circumference around the ankle, at its narrowest point above the ankle bones.",
    "biceps": "Circumference of the upper arm at its fullest part, arm relaxed.",
    "bustFront": "Distance across the front of the bust, from side seam to side seam, over the bust points.",
    "bustPointToUnderbust": "Vertical distance from the bust point down to the underbust line.",
    "bustSpan": "Horizontal distance between the two bust points.",
    "chest": "Circumference of the chest at its fullest part, over the bust points where present.",
    "crossSeam": "Length from the centre front waist, down through the crotch, up to the centre back waist.",
    "crossSeamFront": "Front part of the cross seam: from the centre front waist down to the crotch point.",
    "crotchDepth": "Vertical distance from the waist to the seat of a chair, measured seated.",
    "heel": "Circumference around the heel and over the front of the ankle joint.",
    "head": "Circumference of the head at its fullest part, above the ears.",
    "highBust": "Circumference of the torso above the bust, just under the armpits.",
    "highBustFront": "Front part of the high bust, from armpit to armpit.",
    "hips": "Circumference at hip-bone level (top of the pelvis), below the waist.",
    "hpsToBust": "Distance from the high point of the shoulder down to the bust point.",
    "hpsToWaistBack": "Distance from the high point of the shoulder down the back to the waist.",
    "hpsToWaistFront": "Distance from the high point of the shoulder over the bust down to the front waist.",
    "inseam": "Vertical distance from the crotch to the floor, along the inside of the leg.",
    "knee": "Circumference of the leg at the knee.",
    "neck": "Circumference of the neck at its base, where a collar sits.",
    "seat": "Circumference around the fullest part of the buttocks.",
    "seatBack": "Back part of the seat circumference, from side seam to side seam.",
    "shoulderSlope": "Angle of the shoulder line below the horizontal, in degrees.",
    "shoulderToElbow": "Distance from the shoulder point to the elbow, arm bent.",
    "shoulderToShoulder": "Distance across the back from one shoulder point to the other.",
    "shoulderToWrist": "Distance from the shoulder point along the outside of the arm to the wrist.",
    "underbust": "Circumference of the torso just under the bust.",
    "upperLeg": "Circumference of the upper leg at its fullest part, just below the crotch.",
    "waist": "Circumference at the natural waist, the narrowest part of the torso.",
    "waistBack": "Back part of the waist circumference, from side seam to side seam.",
    "waistToArmpit": "Vertical distance at the side from the waist up to the armpit.",
    "waistToFloor": "Vertical distance from the waist to the floor.",
    "waistToHips": "Vertical distance from the waist down to the hips line.",
    "waistToKnee": "Vertical distance from the waist down to the knee.",
    "waistToSeat": "Vertical distance from the waist down to the fullest part of the seat.",
    "waistToUnderbust": "Vertical distance from the underbust line down to the waist.",
    "waistToUpperLeg": "Vertical distance from the waist down to the upper leg line (crotch level at the side).",
    "wrist": "Circumference of the wrist.",
}

# Legacy v2 names and older v3 names that map to a current measurement.
ALIASES = {
    "ankle": ["ankleCircumference"], "biceps": ["bicepsCircumference"],
    "chest": ["chestCircumference"], "head": ["headCircumference"], "hips": ["hipsCircumference"],
    "knee": ["kneeCircumference"], "waist": ["naturalWaist"], "waistToFloor": ["naturalWaistToFloor"],
    "waistToHips": ["naturalWaistToHip"], "waistToKnee": ["naturalWaistToKnee"],
    "waistToSeat": ["naturalWaistToSeat"], "waistToUnderbust": ["naturalWaistToUnderbust"],
    "neck": ["neckCircumference"], "seat": ["seatCircumference"], "crotchDepth": ["seatDepth"],
    "upperLeg": ["upperLegCircumference"], "wrist": ["wristCircumference"],
    "waistToArmpit": ["waistToArmhole"],
}
# Legacy names with no current equivalent: recognised, dropped, counted.
RETIRED = ["hpsToHipsBack", "hpsToHipsFront", "hipsToUpperLeg"]

def q(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

def freesewing():
    ref = {r["name"]: r for r in csv.DictReader(open(f"{shared}/reference/freesewing/freesewing_measurements_reference.csv"))}
    summ = {r["measurement"]: r for r in csv.DictReader(open(f"{shared}/reference/freesewing/freesewing_sizes_summary.csv"))}
    out = ["# FreeSewing measurement catalog: generated by schemas/make_catalogs.py, do not edit by hand.",
           "# Source: ../shared/reference/freesewing (names, units, breasts-only flags, sizing tables).",
           "name = \"freesewing\"", f"retired = [{', '.join(q(r) for r in RETIRED)}]", ""]
    for name in sorted(n for n, r in ref.items() if r["in_v3_config_measurements"] == "True"):
        s = summ[name]
        if name == "shoulderSlope":
            lo, hi, res = 0, 45, 1
        else:
            lo = int(math.floor(float(s["all_adult_min"]) * 0.5 / 10) * 10)
            hi = int(math.ceil(float(s["all_adult_max"]) * 1.8 / 10) * 10)
            res = 1
        out += ["[[measurement]]", f"name = {q(name)}", f"unit = {q(ref[name]['unit'])}",
                f"min = {lo}", f"max = {hi}", f"resolution = {res}",
                f"breasts_only = {'true' if s['v2_breasts_only'] == 'True' else 'false'}",
                f"aliases = [{', '.join(q(a) for a in ALIASES.get(name, []))}]",
                f"description = {q(DESCRIPTIONS[name])}", ""]
    open("schemas/freesewing-measurements.toml", "w").write("\n".join(out))

def ansur():
    cols = []
    for line in open(f"{shared}/data/ansur2/columns.txt", encoding="utf-8"):
        if line.startswith("#") or line.startswith("index"):
            continue
        f = line.rstrip("\n").split("\t")
        if len(f) >= 5 and f[2] == "measurement":
            cols.append((f[1], f[3], f[4]))
    lo = {c: math.inf for c, _, _ in cols}
    hi = {c: -math.inf for c, _, _ in cols}
    for fn in ["ANSUR_II_MALE_Public.csv", "ANSUR_II_FEMALE_Public.csv"]:
        text = open(f"{shared}/data/ansur2/{fn}", "rb").read().decode("cp1252")
        for r in csv.DictReader(io.StringIO(text)):
            for c, _, _ in cols:
                v = float(r[c]); lo[c] = min(lo[c], v); hi[c] = max(hi[c], v)
    out = ["# ANSUR II measurement catalog: generated by schemas/make_catalogs.py, do not edit by hand.",
           "# Source: ../shared/data/ansur2/columns.txt (names, units, labels) and the two public CSV files (ranges).",
           "name = \"ansur2\"", "retired = []", ""]
    for c, unit, label in cols:
        u = "hg" if unit == "kg*10" else unit
        desc = label + (" (body weight in tenths of a kilogram)" if unit == "kg*10" else "") + "."
        out += ["[[measurement]]", f"name = {q(c)}", f"unit = {q(u)}",
                f"min = {int(math.floor(lo[c] * 0.6))}", f"max = {int(math.ceil(hi[c] * 1.5))}",
                "resolution = 1", "breasts_only = false", "aliases = []", f"description = {q(desc)}", ""]
    open("schemas/ansur2-measurements.toml", "w").write("\n".join(out))

freesewing()
ansur()
