#!/usr/bin/python3
"""Makes a large dataset from real ones for timing `wattfleet fit` and `wattfleet report`.

    bench/replicate_dataset.py OUT.db COPIES SOURCE.db [SOURCE.db ...]

OUT.db holds every campaign of every SOURCE COPIES times: new campaign, job, architecture
and measurement rows (names suffixed "~copyN" after the first copy, figures unchanged),
layers shared by key, as a lab's dataset grows with repeated campaigns. The first SOURCE is
the base (its schema, devices and layers); the stored models are dropped. Only Python's
standard library; the SOURCEs are not modified.
"""
import sqlite3
import sys


def columns(db, table):
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] != "id"]


def insert(db, table, row):
    cur = db.execute(f"INSERT INTO {table}({','.join(row)}) VALUES "
                     f"({','.join('?' * len(row))})", list(row.values()))
    return cur.lastrowid


def copy_campaign(src, dst, cid, suffix):
    """Copies campaign `cid` of `src` into `dst` under its name + suffix."""
    cols = {t: columns(dst, t) for t in ("campaigns", "jobs", "architectures", "measurements")}
    row = dict(zip(cols["campaigns"], src.execute(
        f"SELECT {','.join(cols['campaigns'])} FROM campaigns WHERE id=?", (cid,)).fetchone()))
    row["name"] += suffix
    new_cid = insert(dst, "campaigns", row)
    for (aid,) in src.execute("SELECT id FROM architectures WHERE campaign_id=?",
                              (cid,)).fetchall():
        arow = dict(zip(cols["architectures"], src.execute(
            f"SELECT {','.join(cols['architectures'])} FROM architectures WHERE id=?",
            (aid,)).fetchone()))
        arow["campaign_id"] = new_cid
        new_aid = insert(dst, "architectures", arow)
        for pos, node, key in src.execute("SELECT position, node_name, layer_key FROM "
                                          "arch_layers WHERE architecture_id=?", (aid,)):
            dst.execute("INSERT INTO arch_layers(architecture_id, position, node_name, "
                        "layer_key) VALUES (?, ?, ?, ?)", (new_aid, pos, node, key))
    for (jid,) in src.execute("SELECT id FROM jobs WHERE campaign_id=?", (cid,)).fetchall():
        jrow = dict(zip(cols["jobs"], src.execute(
            f"SELECT {','.join(cols['jobs'])} FROM jobs WHERE id=?", (jid,)).fetchone()))
        jrow["campaign_id"] = new_cid
        new_jid = insert(dst, "jobs", jrow)
        for m in src.execute(f"SELECT {','.join(cols['measurements'])} FROM measurements "
                             f"WHERE job_id=?", (jid,)).fetchall():
            mrow = dict(zip(cols["measurements"], m))
            mrow["job_id"] = new_jid
            insert(dst, "measurements", mrow)


def main() -> int:
    if len(sys.argv) < 4:
        print("usage: bench/replicate_dataset.py OUT.db COPIES SOURCE.db [SOURCE.db ...]",
              file=sys.stderr)
        return 2
    out, copies, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if copies < 1:
        print("COPIES must be at least 1", file=sys.stderr)
        return 2
    dst = sqlite3.connect(out)
    base = sqlite3.connect(f"file:{sources[0]}?mode=ro", uri=True)
    base.backup(dst)
    base.close()
    dst.execute("DELETE FROM models")
    own = [cid for (cid,) in dst.execute("SELECT id FROM campaigns ORDER BY id").fetchall()]
    for n in range(1, copies):
        for cid in own:
            copy_campaign(dst, dst, cid, f"~copy{n}")
    for path in sources[1:]:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        lcols = columns(src, "layers")
        dst.executemany(f"INSERT OR IGNORE INTO layers({','.join(lcols)}) VALUES "
                        f"({','.join('?' * len(lcols))})",
                        src.execute(f"SELECT {','.join(lcols)} FROM layers").fetchall())
        dcols = columns(src, "devices")
        dst.executemany(f"INSERT OR IGNORE INTO devices({','.join(dcols)}) VALUES "
                        f"({','.join('?' * len(dcols))})",
                        src.execute(f"SELECT {','.join(dcols)} FROM devices").fetchall())
        for (cid,) in src.execute("SELECT id FROM campaigns ORDER BY id").fetchall():
            for n in range(copies):
                copy_campaign(src, dst, cid, "" if n == 0 else f"~copy{n}")
        src.close()
    dst.commit()
    total = dst.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
    dst.close()
    print(f"{out}: {total} measurements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
