// Placeholder until the CNI dispatcher lands.
process.stdout.write('{"cniVersion":"1.1.0","code":4,"msg":"hostplane CNI not built yet"}\n');
process.exitCode = 4;
