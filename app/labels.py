"""How the 25 properties and the sampling methods are named and grouped on screen."""
from engine.chem.properties import PROPERTY_NAMES
from engine.sampling import methods as M

LABELS = {
    "mw": "Molecular weight (Da)", "heavy_atoms": "Heavy atoms",
    "molar_refractivity": "Molar refractivity", "logp": "cLogP (Crippen)",
    "tpsa": "TPSA (Å²)", "hbd": "H-bond donors", "hba": "H-bond acceptors",
    "heteroatoms": "Heteroatoms", "nitrogens": "Nitrogen atoms", "oxygens": "Oxygen atoms",
    "halogens": "Halogens (F, Cl, Br, I)", "amide_bonds": "Amide bonds",
    "basic_amines": "Basic amines (aliphatic N)", "rings": "Rings",
    "aromatic_rings": "Aromatic rings", "aliphatic_rings": "Aliphatic rings",
    "largest_ring_size": "Largest ring size", "aromatic_atom_fraction": "Aromatic atom fraction",
    "fsp3": "Fsp3", "stereocenters": "Stereocentres", "rotatable_bonds": "Rotatable bonds",
    "bertz_complexity": "Bertz complexity", "qed": "QED", "sa_score": "SA score (1 easy, 10 hard)",
    "np_likeness": "NP-likeness",
}

GROUPS = {
    "Size": ("mw", "heavy_atoms", "molar_refractivity"),
    "Lipophilicity": ("logp",),
    "Polarity and H-bonding": ("tpsa", "hbd", "hba"),
    "Composition": ("heteroatoms", "nitrogens", "oxygens", "halogens", "amide_bonds",
                    "basic_amines"),
    "Rings and aromaticity": ("rings", "aromatic_rings", "aliphatic_rings",
                              "largest_ring_size", "aromatic_atom_fraction"),
    "Shape and flexibility": ("fsp3", "stereocenters", "rotatable_bonds", "bertz_complexity"),
    "Drug-likeness and synthesis": ("qed", "sa_score", "np_likeness"),
}
assert sorted(p for g in GROUPS.values() for p in g) == sorted(PROPERTY_NAMES)

COUNTS = {"hbd", "hba", "rotatable_bonds", "heavy_atoms", "rings", "aromatic_rings",
          "aliphatic_rings", "stereocenters", "heteroatoms", "nitrogens", "oxygens",
          "halogens", "largest_ring_size", "amide_bonds", "basic_amines"}
STEPS = {"mw": 10.0, "molar_refractivity": 5.0, "logp": 0.25, "tpsa": 5.0, "qed": 0.05,
         "sa_score": 0.25, "np_likeness": 0.25, "fsp3": 0.05, "aromatic_atom_fraction": 0.05,
         "bertz_complexity": 50.0, **{p: 1.0 for p in COUNTS}}

METHODS = {k: m.label for k, m in M.METHODS.items()}
# one bullet per method: what it does to the molecules first, the ML name after
METHOD_HELP = "\n".join(f"- **{m.label}**: {m.summary}.".replace("y*", r"y\*")
                        for m in M.METHODS.values())   # y\*: not markdown emphasis
USES_GAMMA = {k for k, m in M.METHODS.items() if m.uses_gamma}
USES_YS = {k for k, m in M.METHODS.items() if m.uses_ys}
GUIDED = {k for k, m in M.METHODS.items() if m.guided}
ADVANTAGES = {"relative": "relative: (r − mean) / mean", "z": "z-score: (r − mean) / std"}


def label(column: str) -> str:
    """Screen name of a property, a `d_<property>` desirability or `reward`."""
    if column.startswith("d_"):
        return f"d({LABELS.get(column[2:], column[2:])})"
    return LABELS.get(column, column)


def fmt(column: str, value) -> str:
    """A value as a chemist reads it: counts as integers, fractions with 2-3 decimals."""
    if value is None or value != value:
        return "n/a"
    if column.startswith("d_") or column == "reward":
        return f"{value:.3f}"
    if column in COUNTS or column == "bertz_complexity":
        return f"{value:.0f}"
    if column in ("mw", "tpsa", "molar_refractivity"):
        return f"{value:.1f}"
    return f"{value:.2f}"


SHORT = {"mw": "MW", "logp": "cLogP", "tpsa": "TPSA", "hbd": "HBD", "hba": "HBA", "qed": "QED",
         "sa_score": "SA", "np_likeness": "NP", "fsp3": "Fsp3", "rotatable_bonds": "RotB",
         "heavy_atoms": "HA", "rings": "rings", "aromatic_rings": "ArRings",
         "molar_refractivity": "MR", "bertz_complexity": "BertzCT",
         "basic_amines": "basic N", "amide_bonds": "amides", "stereocenters": "stereo"}


def short(column: str) -> str:
    return SHORT.get(column, column.replace("_", " "))


def order_words(column: str, descending: bool) -> str:
    """An order in words: "QED, highest first"."""
    return f"{short(column)}, {'highest' if descending else 'lowest'} first"


def literal(text: str) -> str:
    """`text` shown as written in Streamlit markdown: SMILES and SMARTS hold characters it
    reads as markup ([N+](=O) would be a link, $ opens math, * emphasis, :x[...] a
    directive); what needs a bracket, a dollar or an asterisk is escaped."""
    return "".join(f"\\{c}" if c in "\\`*_[]$" else c for c in str(text))
