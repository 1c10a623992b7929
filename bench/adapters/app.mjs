// The benchmarked Nest app: one module, one controller, one route (GET /roll).
// Plain ESM without a TypeScript step: Nest's (legacy) decorators are ordinary functions that
// write reflect-metadata, so they are applied by hand below.
import 'reflect-metadata';
import { randomInt } from 'node:crypto';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

class RollController {
  roll() {
    return { total: randomInt(1, 7) };
  }
}
Controller()(RollController);
Get('roll')(RollController.prototype, 'roll', Object.getOwnPropertyDescriptor(RollController.prototype, 'roll'));

class BenchModule {}
Module({ controllers: [RollController] })(BenchModule);

/** Both adapters with their defaults, as in Nest's own benchmark. */
export async function createApp(adapter) {
  let httpAdapter;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    httpAdapter = new FastifyAdapter();
  } else if (adapter === 'express') {
    const { ExpressAdapter } = await import('@nestjs/platform-express');
    httpAdapter = new ExpressAdapter();
  } else {
    throw new Error(`unknown adapter: ${adapter}`);
  }
  return NestFactory.create(BenchModule, httpAdapter, { logger: false });
}
