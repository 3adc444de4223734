"""The attribution simulator: a creator's traffic with known ground truth, run through the real services.

It drives the product from outside, as the web adapter does: nothing in core, the other adapters or the
application shell's composition imports it; `coursesignal simulate` and the demo (coursesignal/simulator.py,
coursesignal/demo.py) wire it to a throwaway container. Read in this order:
- scenarios.py: the creator's sites, the channels (with the source the classifier must give each), the
  browsers, and the named scenarios;
- traffic.py: a scenario and a seed become people, devices, visits, hits, purchases and refunds, with the truth;
- playing.py: the timeline played through the tracking and purchases services, on the simulation's clock;
- scoring.py: what the services stored compared with the truth, and the printed report;
- browser.py: the same hits played in chromium with the served t.js (`coursesignal simulate --browser`);
- demo.py: the demo account, filled with the default scenario's traffic moved to end now.

Each simulated person has devices (a phone, a laptop, a shared family computer), a journey of visits
from channels (YouTube, Instagram, Facebook ads, Google, a newsletter, podcasts, direct) over days or
weeks, and may opt in, buy on Kajabi, Teachable or Stripe, buy a gift, clear cookies, lose storage to
Safari's 7-day expiry or browse with storage blocked. The browsers are emulated the way the tracker
behaves (a browser that can keep no id sends none, and the server derives one exactly as the collect
endpoint does), the hits go through the tracking service (or the HTTP endpoint, with a different `deliver`),
purchases through the purchases service, and the stored results are scored against the truth.

Seeded: the same seed and scenario always produce the same traffic and the same figures.
"""
