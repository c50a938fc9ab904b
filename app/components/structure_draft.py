"""The reward editor's draft of a reward's structure terms: one slot per kind of term as
the Structure section shows them (similarity, required and forbidden SMARTS, alert
families), plus any further structure terms a loaded file holds, kept as they are
(`extra`). Plain data in session state; `term_dicts` turns it into reward-file tables for
the engine, `widget_values` into what the widgets must show. A slot that is on but empty
(no reference, no SMARTS, no family) is not part of the reward yet."""
from __future__ import annotations

import copy
import re

from engine.chem.structure_terms import (DEFAULT_FAMILIES, DEFAULT_MODES, DEFAULT_NAMES,
                                         DEFAULT_WEIGHT, MATCHES, WINDOW, structure_table)

SLOTS = ("similarity", "require", "forbid", "alerts")
KINDS = {"similarity": "similarity", "require": "substructure", "forbid": "substructure",
         "alerts": "alerts"}
TITLES = {"similarity": "Similarity to reference molecules",
          "require": "Required substructures (SMARTS)",
          "forbid": "Forbidden substructures (SMARTS)",
          "alerts": "Structural alert penalty"}
DEFAULTS = {
    "similarity": {"on": False, "name": DEFAULT_NAMES["similarity"], "references": "",
                   "goal": "range", **WINDOW, "weight": DEFAULT_WEIGHT},
    "require": {"on": False, "name": "required_substructure", "smarts": "",
                "match": MATCHES[0], "mode": DEFAULT_MODES["substructure"],
                "weight": DEFAULT_WEIGHT},
    "forbid": {"on": False, "name": "forbidden_substructure", "smarts": "", "match": "any",
               "mode": DEFAULT_MODES["substructure"], "weight": DEFAULT_WEIGHT},
    "alerts": {"on": False, "name": DEFAULT_NAMES["alerts"], "families": list(DEFAULT_FAMILIES),
               "mode": DEFAULT_MODES["alerts"], "weight": DEFAULT_WEIGHT},
}
TEXT = {"similarity": "references", "require": "smarts", "forbid": "smarts"}


def key(slot: str, field: str) -> str:
    return f"rw::st::{slot}::{field}"


def lines(text: str) -> list[str]:
    """Non-blank stripped lines, in order, repeats left out."""
    return list(dict.fromkeys(line.strip() for line in (text or "").splitlines()
                              if line.strip()))


def _slot_of(term) -> str:
    return term.goal if term.structure == "substructure" else term.structure


def draft(structures) -> dict:
    """The editor's draft of a reward's structure terms: the first term of each slot fills
    it, any further one is kept in `extra` as its reward-file table."""
    out = {slot: copy.deepcopy(DEFAULTS[slot]) for slot in SLOTS}
    filled, extra = set(), []
    for term in structures:
        slot = _slot_of(term)
        if slot in filled:
            extra.append(term.to_dict())
            continue
        filled.add(slot)
        fields = {"on": True, "name": term.name, "weight": term.weight}
        if slot == "similarity":
            fields.update(references="\n".join(term.references), goal=term.goal,
                          low=term.low, high=term.high,
                          ramp=term.ramp if term.ramp is not None else out[slot]["ramp"])
        elif slot == "alerts":
            fields.update(families=list(term.families), mode=term.mode)
        else:
            fields.update(smarts="\n".join(term.smarts), match=term.match, mode=term.mode)
        out[slot].update(fields)
    out["extra"] = extra
    return out


def _content(slot: str, fields: dict) -> list[str]:
    return fields["families"] if slot == "alerts" else lines(fields[TEXT[slot]])


def active(structures: dict, slot: str) -> bool:
    """The slot is on and has what its term needs (so it is part of the reward)."""
    return bool(structures[slot]["on"] and _content(slot, structures[slot]))


def term_dicts(structures: dict) -> list[dict]:
    """The reward-file tables of the active slots, then the extra terms."""
    out = []
    for slot in SLOTS:
        if not active(structures, slot):
            continue
        fields = dict(structures[slot])
        if slot == "similarity":
            fields["references"] = lines(fields["references"])
        elif slot == "alerts":
            fields["families"] = list(fields["families"])
        else:
            fields.update(goal=slot, smarts=lines(fields["smarts"]))
        out.append(structure_table(KINDS[slot], fields))
    return out + copy.deepcopy(structures["extra"])


def widget_values(structures: dict) -> dict:
    """Widget key -> value for every field of every slot (what the widgets must show)."""
    values = {}
    for slot in SLOTS:
        s = structures[slot]
        fields = {"on": s["on"], "weight": s["weight"]}
        if slot == "similarity":
            fields.update(references=s["references"], goal=s["goal"],
                          window=(s["low"], s["high"]), ramp=s["ramp"])
        elif slot == "alerts":
            fields.update(families=list(s["families"]), mode=s["mode"])
        else:
            fields.update(smarts=s["smarts"], match=s["match"], mode=s["mode"])
        values.update({key(slot, f): v for f, v in fields.items()})
    return values


def in_editor(message: str, structures: dict) -> str:
    """An engine message about a structure term as the editor names it ("term 3:
    substructure 'forbidden_substructure': ..." -> "Forbidden substructures (SMARTS): ...")."""
    found = re.match(r"term \d+: (similarity|substructure|alerts)(?: '(\w+)')?: ", message)
    if not found:
        return message
    name = found.group(2) or DEFAULT_NAMES[found.group(1)]
    slot = next((s for s in SLOTS if structures[s]["name"] == name), None)
    return f"{TITLES[slot]}: {message[found.end():]}" if slot else message


def count(structures: dict) -> int:
    return sum(active(structures, s) for s in SLOTS) + len(structures["extra"])
