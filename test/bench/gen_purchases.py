#!/usr/bin/env python3
"""Write a purchases CSV for the loader benchmark.

    gen_purchases.py ROWS BAD_RATIO OUT.csv [SEED]

Columns: id, customer_id, product (often with commas and quotes), price,
quantity, ts.  With BAD_RATIO > 0, that share of rows is broken in one of
several ways (bad number, price below min, too many decimals, quantity out
of range, missing product, wrong field count, bad timestamp, duplicate id).
"""
import random
import sys

rows, bad_ratio, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 42)
words = ["Halal", "Organic", "Deluxe", "Mini", "Café", "Pro", "Family", "Pack", "Classic"]
items = ["Dates", "Olive Oil", "Rice, Basmati", "Tea \"Green\"", "Lentils", "Honey, Raw", "Flour"]


def product(i):
    name = "%s %s %d" % (rng.choice(words), rng.choice(items), i % 1000)
    if "," in name or '"' in name:
        name = '"' + name.replace('"', '""') + '"'
    return name


with open(out, "w", encoding="utf-8", newline="\n") as f:
    f.write("id,customer_id,product,price,quantity,ts\n")
    for i in range(1, rows + 1):
        fields = [str(i), str(rng.randint(1, 50000)), product(i),
                  "%.2f" % rng.uniform(10, 2000), str(rng.randint(1, 100)),
                  "2024-%02d-%02d %02d:%02d:%02d" % (rng.randint(1, 12), rng.randint(1, 28),
                                                    rng.randint(0, 23), rng.randint(0, 59),
                                                    rng.randint(0, 59))]
        if bad_ratio > 0 and rng.random() < bad_ratio:
            kind = rng.randrange(8)
            if kind == 0:
                fields[3] = "12,5x"
                fields[3] = '"' + fields[3] + '"'
            elif kind == 1:
                fields[3] = "1.50"
            elif kind == 2:
                fields[3] = "19.999"
            elif kind == 3:
                fields[4] = "5000"
            elif kind == 4:
                fields[2] = ""
            elif kind == 5:
                fields = fields[:4]
            elif kind == 6:
                fields[5] = "2024-13-45 99:00:00"
            else:
                fields[0] = str(max(1, i - 1))
        f.write(",".join(fields) + "\n")
