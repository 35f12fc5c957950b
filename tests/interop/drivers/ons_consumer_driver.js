'use strict';
/*
 * Drive the ali-ons push consumer (npm ali-ons, pure JavaScript) against a
 * plain RocketMQ name server, e.g. rmqwire's LocalBroker.
 *
 *   node ons_consumer_driver.js SCENARIO.json
 *
 * The scenario file is the one cpp_consumer_driver.py reads:
 *   {"namesrv": "127.0.0.1:9876", "topic": "T", "group": "G", "expression": "*",
 *    "expect": 5, "timeout_ms": 30000, "fail_once": ["key-3"], "linger_ms": 500}
 * It subscribes `topic` with `expression` (CONSUME_FROM_FIRST_OFFSET: nothing
 * sent before it started is skipped) and returns ACTION_RETRY the first time
 * it sees a message whose keys are in `fail_once` (ali-ons then sends it back
 * with CONSUMER_SEND_MSG_BACK).
 *
 * Output: one JSON object per line on stdout, with an `event` key: `started`,
 * `message` (topic, tags, keys, body, id, queue_id, queue_offset,
 * reconsume_times, properties: all of them), `reconsume_later`, `done` or
 * `timeout`, `shutdown`, `error`. ali-ons' own logging goes to stderr. Exit
 * status 0 when `expect` distinct keys were consumed.
 *
 * It points ali-ons at the name server with `nameSrv` and a throwing
 * `httpclient`, as ons_driver.js does.
 */

const fs = require('fs');
const { Consumer } = require('ali-ons');

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
    throw new Error(`ons_consumer_driver: HTTP name server lookup attempted (${url}); nameSrv should be used`);
  },
};

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node ons_consumer_driver.js SCENARIO.json');
    return 2;
  }
  const scenario = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const failOnce = new Set(scenario.fail_once || []);
  const failed = new Set();
  const consumed = new Set();
  let resolveDone;
  const done = new Promise(resolve => { resolveDone = resolve; });

  const consumer = new Consumer({
    httpclient: noHttp,
    nameSrv: scenario.namesrv,
    consumerGroup: scenario.group,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    logger: stderrLogger,
  });
  consumer.on('error', err => emit({ event: 'error', error: `${err.name}: ${err.message}` }));
  consumer.subscribe(scenario.topic, scenario.expression || '*', async msg => {
    const keys = msg.keys || '';
    const record = {
      event: 'message',
      topic: msg.topic,
      tags: msg.tags || null,
      keys,
      body: msg.body.toString('utf8'),
      id: msg.msgId,
      queue_id: Number(msg.queueId),
      queue_offset: Number(msg.queueOffset),
      reconsume_times: Number(msg.reconsumeTimes),
      properties: msg.properties,
    };
    if (failOnce.has(keys) && !failed.has(keys)) {
      failed.add(keys);
      record.event = 'reconsume_later';
      emit(record);
      return Consumer.ACTION_RETRY;
    }
    emit(record);
    consumed.add(keys);
    if (consumed.size >= scenario.expect) {
      resolveDone(true);
    }
  });
  await consumer.ready();
  emit({
    event: 'started',
    client: 'ali-ons',
    package: 'ali-ons@' + require('ali-ons/package.json').version,
    node: process.version,
  });
  const reached = await Promise.race([done, sleep(scenario.timeout_ms || 30000).then(() => false)]);
  emit({ event: reached ? 'done' : 'timeout', consumed: consumed.size });
  await sleep(scenario.linger_ms || 0);
  try {
    await consumer.close();
    emit({ event: 'shutdown' });
  } catch (err) {
    emit({ event: 'error', step: 'shutdown', error: `${err.name}: ${err.message}` });
    return 1;
  }
  return reached ? 0 : 1;
}

main().then(
  code => process.exit(code),
  err => {
    emit({ event: 'error', step: 'main', error: `${err.name}: ${err.message}` });
    process.exit(1);
  }
);
