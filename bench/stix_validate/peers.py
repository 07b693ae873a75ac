"""Times the OASIS Python stix2-validator (whole object, which parses the pattern too) and
stix2-patterns (the pattern alone) on the sample the Rust benchmark wrote; prints JSON lines."""
import json
import sys
import time

from stix2patterns.validator import run_validator
from stix2validator import ValidationOptions, validate_instance

objects = json.load(open(sys.argv[1]))
options = ValidationOptions(version="2.1")

start = time.perf_counter()
valid = sum(1 for o in objects if validate_instance(o, options).is_valid)
secs = time.perf_counter() - start
print(json.dumps({"peer": "stix2-validator 3.3.2", "objects": len(objects), "valid": valid, "secs": secs, "rate": len(objects) / secs}))

start = time.perf_counter()
ok = sum(1 for o in objects if not run_validator(o["pattern"], stix_version="2.1"))
secs = time.perf_counter() - start
print(json.dumps({"peer": "stix2-patterns 2.1.2", "objects": len(objects), "valid": ok, "secs": secs, "rate": len(objects) / secs}))
