"""Gcore's HTTP API, one role per module; ``gcore_pulumi.client.GcoreClient`` is the door.

Imports run one way, top to bottom: a module uses only those listed below it.

* ``rule_create``, ``group_create``: creates that happen exactly once in effect
* ``rules``: the v1 and v2 rule endpoints (``RuleApi``), rule reads and deletes
* ``group_update``: group PATCHes (the task part, then tags) and adopting a group by id
* ``groups``: group reads (coalesced), lists, deletes, and the one proof that a group or
  rule is gone
* ``tasks``: following Gcore's asynchronous tasks
* ``transport``: the session, timeouts, send, expect, Gcore's 404, parse, paging, retry loops
* ``diagnosis``: why a request got no answer; ``answers``: what an answer says
* ``retry``: the retry policy and the deadline; ``urls``: every URL; ``locks``
"""
