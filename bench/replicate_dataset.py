#!/usr/bin/python3
"""Makes a large dataset from a real one for timing `wattfleet fit` and `wattfleet report`.

    bench/replicate_dataset.py SOURCE.db OUT.db COPIES

OUT.db is SOURCE.db with every campaign copied COPIES - 1 more times: new campaign, job,
architecture and measurement rows (names suffixed "~copyN", payloads unchanged), so the
copy has COPIES times the measurements and architectures, as a lab's dataset grows with
repeated campaigns. Only Python's standard library; SOURCE.db is not modified.
"""
import shutil
import sqlite3
import sys


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    source, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if copies < 1:
        print("COPIES must be at least 1", file=sys.stderr)
        return 2
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst_db = sqlite3.connect(out)
    src.backup(dst_db)
    src.close()
    db = dst_db
    db.execute("DELETE FROM models")
    campaigns = db.execute("SELECT id FROM campaigns ORDER BY id").fetchall()
    cols = lambda t: [r[1] for r in db.execute(f"PRAGMA table_info({t})") if r[1] != "id"]
    camp_cols, job_cols, arch_cols, meas_cols = (cols(t) for t in
                                                 ("campaigns", "jobs", "architectures",
                                                  "measurements"))
    for n in range(1, copies):
        for (cid,) in campaigns:
            row = db.execute(f"SELECT {','.join(camp_cols)} FROM campaigns WHERE id=?",
                             (cid,)).fetchone()
            values = dict(zip(camp_cols, row))
            values["name"] = f"{values['name']}~copy{n}"
            cur = db.execute(f"INSERT INTO campaigns({','.join(values)}) VALUES "
                             f"({','.join('?' * len(values))})", list(values.values()))
            new_cid = cur.lastrowid
            for (aid,) in db.execute("SELECT id FROM architectures WHERE campaign_id=?",
                                     (cid,)).fetchall():
                arow = dict(zip(arch_cols, db.execute(
                    f"SELECT {','.join(arch_cols)} FROM architectures WHERE id=?",
                    (aid,)).fetchone()))
                arow["campaign_id"] = new_cid
                new_aid = db.execute(f"INSERT INTO architectures({','.join(arow)}) VALUES "
                                     f"({','.join('?' * len(arow))})",
                                     list(arow.values())).lastrowid
                db.execute("INSERT INTO arch_layers(architecture_id, position, node_name, "
                           "layer_key) SELECT ?, position, node_name, layer_key FROM "
                           "arch_layers WHERE architecture_id=?", (new_aid, aid))
            for (jid,) in db.execute("SELECT id FROM jobs WHERE campaign_id=?",
                                     (cid,)).fetchall():
                jrow = dict(zip(job_cols, db.execute(
                    f"SELECT {','.join(job_cols)} FROM jobs WHERE id=?", (jid,)).fetchone()))
                jrow["campaign_id"] = new_cid
                new_jid = db.execute(f"INSERT INTO jobs({','.join(jrow)}) VALUES "
                                     f"({','.join('?' * len(jrow))})",
                                     list(jrow.values())).lastrowid
                db.execute(f"INSERT INTO measurements({','.join(meas_cols)}) SELECT "
                           f"{','.join('?' if c == 'job_id' else c for c in meas_cols)} "
                           f"FROM measurements WHERE job_id=?", (new_jid, jid))
    db.commit()
    total = db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
    db.close()
    print(f"{out}: {total} measurements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
