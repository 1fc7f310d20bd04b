// Placeholder until the device-plugin subcommand lands.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('hostplane device-plugin: not built yet\n');
  return 1;
}
