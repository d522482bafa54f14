// A Node.js client of the mesh built only from proto/ (no reflection, no generated JS):
// @grpc/grpc-js + @grpc/proto-loader. Prints one JSON object for the test to check.
// Usage: node tests/node/client.js ADDRESS ORG_ID
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [address, orgId] = process.argv.slice(2);
const protoDir = path.join(__dirname, '..', '..', 'proto');
const definition = protoLoader.loadSync('liftos/v1/ingestion.proto', {
  includeDirs: [protoDir], keepCase: true, longs: String, enums: String, oneofs: true, defaults: false,
});
const liftos = grpc.loadPackageDefinition(definition).liftos.v1;
const client = new liftos.IngestionService(address, grpc.credentials.createInsecure());

function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

(async () => {
  const calendar = await call('GetCalendar', {
    country: 'US',
    start_date: { year: 2024, month: 11, day: 26 },
    end_date: { year: 2024, month: 11, day: 29 },
  });
  const experiments = await call('ListExperiments', { org_id: orgId });
  let badRequest = null;
  try {
    await call('GetCalendar', { country: 'US', start_date: { year: 2024, month: 11, day: 2 }, end_date: { year: 2024, month: 11, day: 1 } });
  } catch (err) {
    badRequest = { code: err.code, details: err.details };
  }
  console.log(JSON.stringify({
    holidays: calendar.days.filter((d) => d.is_holiday).map((d) => [d.date.day, d.holiday_name]),
    experiments: experiments.experiments.map((e) => ({ id: e.experiment_id, unit: e.randomization_unit, start: e.start_date })),
    badRequest,
  }));
  client.close();
})().catch((err) => { console.error(err); process.exit(1); });
