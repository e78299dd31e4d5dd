"""Privacy mechanisms behind one protocol, chosen per scenario as ``privacy.mechanism``.

A mechanism tells schedulers what they may do (per-layer caps, source-only
layers, the minimum fleet) and reports what a placement exposes (the SSIM an
attacker could reach from the maps devices received) and the accuracy it buys.
One module each; :mod:`.registry` maps names to classes like the scheduler
registry. Built in: ``feature_split`` (DistPrivacy, the default) and ``none``
(no protection, the price-of-privacy baseline).
"""
