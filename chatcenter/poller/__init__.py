"""The poller: keeps every active seller fresh by polling its WB event feed.

- decisions.py   when to poll a seller (pure functions, fake-clock tested)
- membership.py  which live poller polls which seller (Redis keys, rendezvous split, poll slots)
- loop.py        the loop: polls, enqueues syncs on news, records failing polls
- recovery.py    the periodic recovery one poller runs each interval
- __main__.py    the process: `python -m chatcenter.poller` (run as many as you like)
"""
