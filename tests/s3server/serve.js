// The S3-compatible server of the storage tests (started by tests/s3server.py): s3rver on
// 127.0.0.1, on the port given (0: any free one), keeping its objects in the folder given.
// Prints "listening on <port>" once it answers; stops when its standard input closes, so a
// test run that dies takes it along.
'use strict';

const S3rver = require('@20minutes/s3rver');

const [port, directory] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port || 0),
  directory,
  silent: true,
  // Path-style requests only (http://127.0.0.1:PORT/bucket/key), as the tests make them.
  vhostBuckets: false,
});
server.run().then(
  (address) => {
    process.stdout.write(`listening on ${address.port}\n`);
  },
  (err) => {
    process.stderr.write(`s3rver could not start: ${err.message}\n`);
    process.exit(1);
  },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
