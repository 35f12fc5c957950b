"""The consumer side: push and lite-pull consumers, rebalance, offsets, retries.

Mirrors Java's ``DefaultMQPushConsumerImpl`` / ``DefaultLitePullConsumerImpl``
and their helpers, one module per job:

* :mod:`.allocate`: which queues a member of a group takes;
* :mod:`.process_queue`: the in-flight messages of one queue;
* :mod:`.offset_store`: where offsets live (broker, or a local file);
* :mod:`.consume_orderly`, :mod:`.orderly_queue`, :mod:`.locks`: orderly
  consumption, its process queue, and the queue locks on the brokers;
"""

from __future__ import annotations
