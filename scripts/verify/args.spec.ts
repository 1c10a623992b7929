import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseVerifyArgs, UsageError } from './args.ts';

const fails = (argv: string[]) => {
  try {
    parseVerifyArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
};

describe('parseVerifyArgs', () => {
  it('defaults to the compose stack, 5 requests and a 30 s wait', () => {
    expect(parseVerifyArgs([])).toEqual({ help: false, stack: 'compose', urls: {}, requests: DEFAULTS.requests, waitSeconds: DEFAULTS.waitSeconds });
    expect(DEFAULTS).toEqual({ requests: 5, waitSeconds: 30 });
  });

  it('takes the native stack with a recorder directory', () => {
    expect(parseVerifyArgs(['--stack', 'native', '--recorder', '/tmp/rec'])).toMatchObject({ stack: 'native', recorder: '/tmp/rec' });
  });

  it('treats --lb without --stack as a cluster, and a cluster needs --lb and --prometheus', () => {
    expect(parseVerifyArgs(['--lb', 'http://lb:8080/', '--prometheus', 'https://prom.example'])).toMatchObject({
      stack: 'cluster',
      urls: { lb: 'http://lb:8080', prometheus: 'https://prom.example' },
    });
    expect(fails(['--lb', 'http://lb'])).toBe("--stack cluster needs --prometheus (the Services' URLs, e.g. from kubectl port-forward)");
    expect(fails(['--stack', 'cluster'])).toMatch(/needs --lb and --prometheus/);
  });

  it('lets a URL override one component of compose or native', () => {
    expect(parseVerifyArgs(['--stack', 'compose', '--lb', 'http://localhost:8080'])).toMatchObject({ stack: 'compose', urls: { lb: 'http://localhost:8080' } });
    expect(parseVerifyArgs(['--stack', 'native', '--alertmanager', 'http://127.0.0.1:9093'])).toMatchObject({ urls: { alertmanager: 'http://127.0.0.1:9093' } });
  });

  it('refuses a bad stack, URL, count or wait, naming the option and what it takes', () => {
    expect(fails(['--stack', 'k8s'])).toBe('--stack must be one of compose, native, cluster, got "k8s"');
    expect(fails(['--prometheus', 'localhost:9090'])).toMatch(/^--prometheus must be an http:\/\/ or https:\/\/ URL/);
    expect(fails(['--tempo', 'not a url'])).toBe('--tempo must be a URL such as http://localhost:9090, got "not a url"');
    expect(fails(['--loki', 'http://loki:3100/?x=1'])).toMatch(/without query or fragment/);
    expect(fails(['--requests', '0'])).toBe('--requests must be a whole number from 1 to 100, got "0"');
    expect(fails(['--requests', '2.5'])).toMatch(/whole number/);
    expect(fails(['--requests', ''])).toMatch(/whole number/);
    expect(fails(['--wait', 'soon'])).toBe('--wait must be a number from 1 to 600, got "soon"');
    expect(parseVerifyArgs(['--wait', '2.5']).waitSeconds).toBe(2.5);
  });

  it('refuses unknown options and stray words in one clear sentence', () => {
    expect(fails(['--bogus'])).toBe("Unknown option '--bogus'");
    expect(fails(['native'])).toMatch(/Unexpected argument 'native'/);
    expect(fails(['--stack'])).toMatch(/--stack <value>' argument missing/);
  });

  it('refuses --recorder together with Tempo or Loki URLs, or without a directory', () => {
    expect(fails(['--recorder', '/tmp/r', '--tempo', 'http://t:3200'])).toBe('--recorder replaces Tempo and Loki; drop --tempo or --recorder');
    expect(fails(['--recorder', ' '])).toMatch(/needs the directory/);
  });

  it('answers --help whatever else is given', () => {
    expect(parseVerifyArgs(['--help', '--stack', 'bogus']).help).toBe(true);
    expect(parseVerifyArgs(['-h']).help).toBe(true);
  });
});
