// Placeholder until the csi subcommand lands.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('hostplane csi: not built yet\n');
  return 1;
}
