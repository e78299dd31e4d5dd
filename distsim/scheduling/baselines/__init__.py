"""Baseline schedulers, one module each, behind the :class:`~distsim.scheduling.base.Scheduler` protocol.

* ``random`` (:mod:`.random_fit`): a uniformly random feasible participant per segment.
* ``round_robin`` (:mod:`.round_robin`): participants in turn, skipping infeasible ones.
* ``no_privacy`` (:mod:`.no_privacy`): DistPrivacy with the privacy limits lifted.
* ``layerwise`` (:mod:`.layerwise`): each layer whole on its fastest feasible participant.
* ``source_only`` (:mod:`.source_only`): every layer on the camera.

Which of them honour ``Nf`` is stated in ``docs/schedulers.md`` and by each
class's ``honours_privacy`` attribute (read by
:func:`distsim.scheduling.validate.validation_flags`).
"""
