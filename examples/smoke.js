// An example command check: greenlight runs it with BASE_URL set to green's endpoint and
// GREENLIGHT_VERSION to the version under release. Exit 0 passes; the output's tail is shown.
const base = process.env.BASE_URL;
fetch(`${base}/version`)
  .then((r) => r.json())
  .then((body) => {
    console.log(`${base}/version says ${JSON.stringify(body)}`);
    process.exit(body.version === process.env.GREENLIGHT_VERSION ? 0 : 1);
  })
  .catch((e) => {
    console.error(`cannot reach ${base}: ${e.message}`);
    process.exit(1);
  });
