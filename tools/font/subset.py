#!/usr/bin/env python3
"""Makes crates/idlink-pdf/fonts/IdlinkSansSC-Regular.otf: a subset of Noto Sans CJK SC
2.004 (OFL 1.1), renamed as the OFL asks of a Modified Version.

Dev-time only (the product never runs it): needs Debian's fonts-noto-cjk and
unicode-data, and fontTools from PyPI (python3 -m venv /tmp/ft &&
/tmp/ft/bin/pip install fonttools; then /tmp/ft/bin/python tools/font/subset.py).

Characters: GB 2312 (levels 1 and 2 with its symbols), the Table of General
Standard Chinese Characters (通用规范汉字表, Unihan kTGHZ2013: names GB 2312
lacks), every CJK character of the web locales, and the Latin, punctuation and
grid ranges the report draws.
"""
import bz2
import glob
import os
import subprocess
import sys

from fontTools.ttLib import TTFont

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FACE = "2"  # the TTC's faces: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK
UNIHAN = "/usr/share/unicode/Unihan_Readings.txt.bz2"
OUT = os.path.join(ROOT, "crates", "idlink-pdf", "fonts", "IdlinkSansSC-Regular.otf")
FAMILY, POSTSCRIPT = "Idlink Sans SC", "IdlinkSansSC-Regular"
RANGES = "U+0020-007E,U+00A0-00FF,U+2010-2027,U+2030-203B,U+2190-2193,U+2460-2473,U+25A0-25CF,U+2605-2606,U+3000-303F,U+FF01-FF5E,U+FFE0-FFE5"


def gb2312():
    chars = set()
    for hi in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xF8)):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def general_standard():
    chars = set()
    with bz2.open(UNIHAN, "rt", encoding="utf-8") as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] == "kTGHZ2013":
                chars.add(chr(int(parts[0][2:], 16)))
    return chars


def locales():
    chars = set()
    for path in glob.glob(os.path.join(ROOT, "crates", "idlink-web", "locales", "*", "*.ftl")):
        with open(path, encoding="utf-8") as f:
            chars.update(c for c in f.read() if ord(c) >= 0x2E80)
    return chars


def rename(path):
    font = TTFont(path)
    name = font["name"]
    for rec in list(name.names):
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID == 4:
            rec.string = FAMILY + " Regular"
        elif rec.nameID == 6:
            rec.string = POSTSCRIPT
        elif rec.nameID == 3:
            rec.string = POSTSCRIPT + ";subset-of-NotoSansCJKsc-2.004"
        elif rec.nameID in (2, 17):
            rec.string = "Regular"
    name.removeNames(nameID=18)
    cff = font["CFF "].cff
    cff.fontNames = [POSTSCRIPT]
    top = cff.topDictIndex[0]
    top.FullName = FAMILY + " Regular"
    top.FamilyName = FAMILY
    for fd in getattr(top, "FDArray", []):
        if hasattr(fd, "FontName"):
            fd.FontName = POSTSCRIPT + "-" + fd.FontName.split("-")[-1]
    font.save(path)
    return font


def main():
    chars = gb2312() | general_standard() | locales()
    text = os.path.join("/tmp", "idlink-font-chars.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write("".join(sorted(chars)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    pyftsubset = os.path.join(os.path.dirname(sys.executable), "pyftsubset")
    subprocess.run(
        [pyftsubset, SOURCE, "--font-number=" + FACE, "--text-file=" + text, "--unicodes=" + RANGES,
         "--layout-features=kern", "--no-hinting", "--name-IDs=0,1,2,3,4,5,6,7,8,9,11,12,13,14", "--output-file=" + OUT],
        check=True,
    )
    font = rename(OUT)
    print(OUT, os.path.getsize(OUT), "bytes,", font["maxp"].numGlyphs, "glyphs,", len(font.getBestCmap()), "characters")


if __name__ == "__main__":
    main()
