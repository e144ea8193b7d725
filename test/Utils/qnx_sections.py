"""The sections of a .qnx artifact (docs/artifact.md), for the tests' helper
scripts: {name: bytes}, in the section table's order."""

import struct


def read_sections(path):
    data = open(path, "rb").read()
    count = struct.unpack_from("<I", data, 12)[0]
    sections = {}
    for i in range(count):
        name, offset, size = struct.unpack_from("<16sQQ", data, 64 + 48 * i)
        sections[name.rstrip(b"\0").decode()] = data[offset:offset + size]
    return sections
