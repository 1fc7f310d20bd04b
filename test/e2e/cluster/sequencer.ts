// e2e files run in name order (00-install first, uninstall last): they share one node.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export default class NameOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}
