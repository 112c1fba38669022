// Runs an ONNX model with ONNX Runtime (the onnxruntime-node package, found through
// NODE_PATH) on one float32 input read from a raw little-endian file, and writes the first
// output the same way. Used by tests/apps/test_onnx_export.cpp to compare with cnnlab.
//   NODE_PATH=build/onnx_tools/node_modules node onnx_run.js MODEL.onnx IN.bin 3,3,32,32 OUT.bin
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inputPath, shapeText, outputPath] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model);
  const bytes = fs.readFileSync(inputPath);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const dims = shapeText.split(',').map(Number);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', values, dims)};
  const results = await session.run(feeds);
  const output = results[session.outputNames[0]];
  fs.writeFileSync(outputPath, Buffer.from(output.data.buffer, output.data.byteOffset, output.data.byteLength));
  console.log(JSON.stringify({input: session.inputNames[0], output: session.outputNames[0], dims: output.dims}));
}

main().catch((error) => {
  console.error(`onnx_run.js: ${error.message}`);
  process.exit(1);
});
