"""CI's second check that every test ran: fail when the JUnit report of the run lists a skipped test (or no test).

Usage: python3 scripts/ci-junit-check.py build/ci/junit.xml   (.ci/run calls it after `make test`)
"""

import sys
import xml.etree.ElementTree as ET


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    skipped = [f"{c.get('classname')}::{c.get('name')}: {s.get('message')}"
               for c in root.iter("testcase") for s in c.findall("skipped")]
    if skipped or tests == 0:
        print(f"ci: {len(skipped)} skipped of {tests} test(s); CI runs every test:", *skipped, sep="\n  ")
        return 1
    print(f"ci: {tests} tests, none skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
