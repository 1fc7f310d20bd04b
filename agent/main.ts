// Placeholder until the agent subcommand lands.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('hostplane agent: not built yet\n');
  return 1;
}
