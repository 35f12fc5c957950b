'use strict';
/*
 * Drive the ali-ons producer (npm ali-ons, pure JavaScript) against a plain
 * RocketMQ name server, e.g. rmqwire's LocalBroker.
 *
 *   node ons_driver.js SCENARIO.json
 *
 * The scenario file is the one cpp_driver.py reads:
 *   {"namesrv": "127.0.0.1:9876", "topic": "T", "group": "G", "timeout_ms": 5000,
 *    "messages": [{"case": "c1", "api": "send", "body": "text", "tags": "TagA",
 *                  "keys": ["k1"], "properties": {"p": "v"}, "delay_level": 3,
 *                  "sharding_key": "order-1"}]}
 * ali-ons has only one producer API, `send` (SEND_MESSAGE_V2); a message with a
 * `sharding_key` is routed by ali-ons itself to queue md5(key)[0..4] % queues.
 *
 * How ali-ons is pointed at a plain name server: its RemotingClient fetches the
 * name server list over HTTP from `onsAddr` (an Alibaba cloud address server)
 * unless `options.nameSrv` is set, in which case it uses that list as is and
 * never calls the HTTP client. It still asserts that `options.httpclient`
 * exists, so a stub that throws is passed. Without accessKeyId/accessKeySecret
 * it signs nothing. It speaks JSON headers only, as language JAVA, version 121.
 *
 * Output: one JSON object per line on stdout, with an `event` key (`started`,
 * `send`, `heartbeat`, `shutdown`, `error`). ali-ons' own logging goes to
 * stderr. Exit status 0 when every step ran, 1 otherwise.
 */

const fs = require('fs');
const { Producer, Message } = require('ali-ons');

function emit(fields) {
  process.stdout.write(JSON.stringify(fields) + '\n');
}

const stderrLogger = {
  info() {},
  debug() {},
  warn(...args) { console.error('[ali-ons warn]', ...args); },
  error(...args) { console.error('[ali-ons error]', ...args); },
};

const noHttp = {
  async request(url) {
    throw new Error(`ons_driver: HTTP name server lookup attempted (${url}); nameSrv should be used`);
  },
};

function buildMessage(topic, spec) {
  const msg = new Message(topic, spec.tags || null, Buffer.from(spec.body, 'utf8'));
  if (spec.keys && spec.keys.length) {
    msg.keys = spec.keys;
  }
  for (const key of Object.keys(spec.properties || {}).sort()) {
    msg.properties[key] = spec.properties[key];
  }
  if (spec.delay_level) {
    msg.delayTimeLevel = spec.delay_level;
  }
  if (spec.sharding_key) {
    msg.shardingKey = spec.sharding_key;
  }
  return msg;
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node ons_driver.js SCENARIO.json');
    return 2;
  }
  const scenario = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const timeout = scenario.timeout_ms || 5000;
  const producer = new Producer({
    httpclient: noHttp,
    nameSrv: scenario.namesrv,
    producerGroup: scenario.group,
    logger: stderrLogger,
    sendMsgTimeout: timeout,
    responseTimeout: timeout,
    connectTimeout: timeout,
    retryTimesWhenSendFailed: 0,
  });
  producer.on('error', err => console.error('[ali-ons producer error]', err));
  await producer.ready();
  emit({
    event: 'started',
    client: 'ali-ons',
    package: 'ali-ons@' + require('ali-ons/package.json').version,
    node: process.version,
  });

  let failed = false;
  for (const spec of scenario.messages) {
    const record = { event: 'send', case: spec.case, api: spec.api };
    try {
      if (spec.api !== 'send') {
        throw new Error(`unknown api ${spec.api}`);
      }
      const res = await producer.send(buildMessage(scenario.topic, spec));
      Object.assign(record, {
        status: res.sendStatus,
        msg_id: res.msgId,
        offset: res.queueOffset,
        queue_id: Number(res.messageQueue.queueId),
      });
    } catch (err) {
      failed = true;
      Object.assign(record, { status: 'ERROR', error: `${err.name}: ${err.message}` });
    }
    emit(record);
  }

  // ali-ons heartbeats only from its 30 s timer (the one sent at start-up
  // goes nowhere: no broker is known before the first route lookup), so run
  // one round of its own heartbeat now.
  try {
    await producer._mqClient.sendHeartbeatToAllBroker();
    emit({ event: 'heartbeat' });
  } catch (err) {
    failed = true;
    emit({ event: 'error', step: 'heartbeat', error: `${err.name}: ${err.message}` });
  }

  // close() sends UNREGISTER_CLIENT for the user group and closes the
  // sockets. ali-ons also starts an inner CLIENT_INNER_PRODUCER on a client
  // instance of its own (client id <ip>@DEFAULT) that never learns a route,
  // so closing it sends nothing; close it anyway so that no timer is left.
  try {
    await producer.close();
    if (Producer.defaultProducer) {
      await Producer.defaultProducer.close();
    }
    emit({ event: 'shutdown' });
  } catch (err) {
    failed = true;
    emit({ event: 'error', step: 'shutdown', error: `${err.name}: ${err.message}` });
  }
  return failed ? 1 : 0;
}

main().then(
  code => process.exit(code),
  err => {
    emit({ event: 'error', step: 'main', error: `${err.name}: ${err.message}` });
    process.exit(1);
  }
);
