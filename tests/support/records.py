"""The delivery records of a SPOOL_DIR as the tests read them (SPEC §7): slots in `deliveries/XX.slots` (1 KB each:
magic "SDR1", FNV-1a 64 checksum of the rest, time, key and body lengths, key, body; see
Sources/Delivery/RecordSlots.swift), and the file records `deliveries/XX/GROUP.json` for what a slot did not take."""
import pathlib
import struct

SLOT = 1024
HEADER = 24


def _fnv(data: bytes) -> int:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


SHARDS, SLOTS_PER_SHARD, WINDOW = 256, 4096, 8


def _slot(data: bytes, offset: int):
    """(key, body) of the whole record at `offset`, or None (empty, torn)."""
    if data[offset:offset + 4] != b"SDR1" or len(data) < offset + HEADER:
        return None
    checksum, _, key_length, body_length = struct.unpack_from("<QqHH", data, offset + 4)
    end = offset + HEADER + key_length + body_length
    if HEADER + key_length + body_length > SLOT or len(data) < end or _fnv(data[offset + 12:end]) != checksum:
        return None
    return data[offset + HEADER:offset + HEADER + key_length].decode(), data[offset + HEADER + key_length:end]


def recorded(spool, group_id) -> bool:
    """Whether `spool` holds a whole record of `group_id`: in its slot window (placed as RecordSlots.place does),
    or as a file."""
    deliveries = pathlib.Path(spool) / "deliveries"
    h = _fnv(group_id.encode())
    shard, first = h % SHARDS, (h // SHARDS) % (SLOTS_PER_SHARD - WINDOW + 1)
    path = deliveries / f"{shard:02x}.slots"
    if path.exists():
        with open(path, "rb") as f:
            f.seek(first * SLOT)
            data = f.read(WINDOW * SLOT)
        if any((_slot(data, i * SLOT) or ("",))[0] == group_id for i in range(WINDOW)):
            return True
    record = deliveries / group_id[:2] / f"{group_id}.json"
    return record.exists() and record.read_bytes().rstrip().endswith(b"}")
