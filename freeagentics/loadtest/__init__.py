"""Load testing: the real server under simulated users, measured and reported.

``freeagentics loadtest`` runs :mod:`.runner` (server subprocess, user worker processes,
resource sampler) for one or more :mod:`.profiles`, writes raw JSON files and then a
Markdown report built only from those files (:mod:`.report`).
"""

from __future__ import annotations
