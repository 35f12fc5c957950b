"""The consumer side: push and lite-pull consumers, rebalance, offsets, retries.

Mirrors Java's ``DefaultMQPushConsumerImpl`` / ``DefaultLitePullConsumerImpl``
and their helpers, one module per job:

* :mod:`.push`: ``AsyncPushConsumer`` and the blocking ``PushConsumer``
  (options in :mod:`.push_options`);
* :mod:`.lite_pull`: ``AsyncLitePullConsumer`` and the blocking ``LitePullConsumer``;
* :mod:`.rebalance`: the share of each topic's queues, where a new queue starts;
* :mod:`.allocate`: the allocation strategies (``AllocateMessageQueue*``);
* :mod:`.pull`: one PULL_MESSAGE and what its answer means (``PullAPIWrapper``);
* :mod:`.consume`: the listener runs and acknowledgements (``ConsumeMessageConcurrentlyService``);
* :mod:`.process_queue`: the in-flight messages of one queue;
* :mod:`.offset_store`: where offsets live (the broker, or a local file);
* :mod:`.consume_orderly`, :mod:`.orderly_queue`, :mod:`.locks`: orderly
  consumption, its process queue, and the queue locks on the brokers;
* :mod:`.broker_api`: the consumer's other requests to brokers;
* :mod:`.admin`: the answers to operators (GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY);
* :mod:`.stats`: the pull and consume rates those answers report;
* :mod:`.client_options`: the client-instance options every consumer takes.

The public names are re-exported by :mod:`rmqwire`.
"""

from __future__ import annotations
